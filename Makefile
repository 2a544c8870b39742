# Entry points. `make run`: the demo (APIR vs native generation). `make test`: the test suite.
# The pinned llama.cpp is fetched and built once into ~/.cache/ggml-apir (scripts/deps.sh);
# LLAMA_CPP_DIR=/path uses your own built tree instead.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test test-full test-asan run bench compare micro fuzz clean format

all: build

deps:
	@bash scripts/install-deps.sh
	@bash scripts/deps.sh >/dev/null

$(BUILD)/build.ninja: CMakeLists.txt tests/CMakeLists.txt scripts/deps.sh scripts/deps-virgl.sh
	@bash scripts/install-deps.sh
	@dir=$$(bash scripts/deps.sh | tail -n 1) && \
	  virgl=$$(bash scripts/deps-virgl.sh | tail -n 1) && \
	  cmake -S . -B $(BUILD) -G Ninja -DLLAMA_CPP_DIR="$$dir" -DVIRGL_BUILD_DIR="$$virgl" >/dev/null

build: $(BUILD)/build.ninja
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -LE full

test-full: build
	@cd $(BUILD) && ctest --output-on-failure -L full

# The same suite, our code under ASan+UBSan (clang) and the host side on a sanitizer build of
# ggml's CPU backend (scripts/deps-asan.sh); any report fails its test (tests/sanitize/run.sh).
ASAN_BUILD ?= build-asan
$(ASAN_BUILD)/build.ninja: CMakeLists.txt tests/CMakeLists.txt cmake/sanitize.cmake scripts/deps.sh scripts/deps-virgl.sh scripts/deps-asan.sh
	@bash scripts/install-deps.sh
	@dir=$$(bash scripts/deps.sh | tail -n 1) && \
	  virgl=$$(bash scripts/deps-virgl.sh | tail -n 1) && \
	  san=$$(bash scripts/deps-asan.sh | tail -n 1) && \
	  cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DLLAMA_CPP_DIR="$$dir" \
	    -DVIRGL_BUILD_DIR="$$virgl" -DAPIR_SANITIZE=ON -DAPIR_SANITIZE_GGML_BIN="$$san" >/dev/null

test-asan: $(ASAN_BUILD)/build.ninja
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -LE full

run: build
	@bash scripts/run.sh $(BUILD)

bench: build
	@bash bench/generate.sh $(BUILD)

compare: build
	@bash bench/compare.sh $(BUILD)

micro: build
	@bash bench/micro.sh $(BUILD)

# libFuzzer targets under ASan+UBSan (clang): FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz: build
	@dir=$$(bash scripts/deps.sh | tail -n 1) && \
	  bash tests/fuzz/run.sh $(BUILD) "$$dir" $(FUZZ_SECONDS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
