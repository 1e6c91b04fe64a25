// ChatML rendering, checked against strings written out by hand from the ChatML definition
// (<|im_start|>role\ncontent<|im_end|>\n per turn); the SmolLM2 rendering itself is checked
// against the golden file in GoldenTokenizationTests.

import XCTest
@testable import EmendModels

final class ChatTemplateTests: XCTestCase {
    /// Default system turn only when the first message is not a system message.
    func testRender_DefaultSystemMessage() {
        let t = ChatTemplate(defaultSystemMessage: "Be brief.")
        XCTAssertEqual(t.render([.user("Hi")]),
                       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(t.render([.system("S"), .user("Hi"), .assistant("Yo")], addGenerationPrompt: false),
                       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n")
        XCTAssertEqual(t.render([]), "<|im_start|>assistant\n")
        XCTAssertEqual(ChatTemplate().render([.user("Hi")], addGenerationPrompt: false), "<|im_start|>user\nHi<|im_end|>\n")
    }

    /// The default system message is read from a Jinja ChatML template (real or escaped newlines),
    /// skipping a system turn that splices in message content; non-ChatML templates are refused.
    func testJinja_Recognition() throws {
        let plain = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\nYou are kind.<|im_end|>\n' }}{% endif %}"
            + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        XCTAssertEqual(try ChatTemplate(jinja: plain).defaultSystemMessage, "You are kind.")
        let spliced = #"{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"#
            + #"{%- else %}{{- '<|im_start|>system\nYou are Q.<|im_end|>\n' }}{%- endif %}"#
        XCTAssertEqual(try ChatTemplate(jinja: spliced).defaultSystemMessage, "You are Q.")
        XCTAssertNil(try ChatTemplate(jinja: "{{'<|im_start|>' + m + '<|im_end|>'}}").defaultSystemMessage)
        XCTAssertThrowsError(try ChatTemplate(jinja: "{{ bos_token }}[INST] {{ m }} [/INST]")) {
            guard case .unsupportedChatTemplate? = $0 as? TokenizerError else { return XCTFail("\($0)") }
        }
    }
}
