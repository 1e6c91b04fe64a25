// Standard output for long runs: line-buffered, so a log file shows each line when it is printed.

import COpenBLAS

/// Makes standard output line-buffered even when it is a file or a pipe (the `emend` command calls this first).
public func lineBufferStandardOutput() { emend_line_buffer_stdout() }
