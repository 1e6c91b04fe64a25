print("EmendBench: no benchmarks yet")
