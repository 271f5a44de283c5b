# lockstep — one binary (build/lockstep), one static library, unit tests, fuzzers.
#   make            build/lockstep
#   make run        set up (packages, default model) and generate text from it
#   make test       set up and run the whole suite (what .ci/run calls)
#   make asan       the unit tests and the binary under ASan+UBSan in build-asan/
#   make fuzz       libFuzzer targets in build-fuzz/ (clang)

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
# -ffp-contract=off: no fused multiply-add unless a kernel writes one, so every code path
# rounds the same way. -fno-math-errno: sqrtf is one instruction, never a libm call.
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -ffp-contract=off -fno-math-errno \
           -Isrc -Iinclude -MMD -MP
LDLIBS  += -lpthread -lm
AVX2_FLAGS   = -mavx2 -mfma -mf16c
AVX512_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c

LIB_SOURCES  := $(sort $(wildcard src/*/*.c))
LIB_SOURCES  := $(filter-out src/cli/%,$(LIB_SOURCES))
CLI_SOURCES  := $(sort $(wildcard src/cli/*.c))
TEST_SOURCES := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJECTS  := $(LIB_SOURCES:%.c=$(BUILD)/%.o)
CLI_OBJECTS  := $(CLI_SOURCES:%.c=$(BUILD)/%.o)
TEST_BINS    := $(TEST_SOURCES:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all tests run test asan fuzz clean bench
all: $(BUILD)/lockstep

$(BUILD)/lockstep: $(CLI_OBJECTS) $(BUILD)/liblockstep.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/liblockstep.a: $(LIB_OBJECTS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX2_FLAGS) -c -o $@ $<

$(BUILD)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512_FLAGS) -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liblockstep.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/liblockstep.a $(LDLIBS)

tests: $(BUILD)/lockstep $(TEST_BINS)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" tests

FUZZ_SOURCES := $(sort $(wildcard fuzz/fuzz_*.c))
fuzz: $(FUZZ_SOURCES:fuzz/%.c=build-fuzz/%)
# A fuzzer links only the parser it drives (kernels instrumented for fuzzing take minutes).
FUZZ_SOURCES_fuzz_gguf := src/io/gguf.c src/base/error.c src/quant/dtype.c
FUZZ_SOURCES_fuzz_machine := src/compile/machine.c src/base/error.c src/quant/dtype.c
build-fuzz/%: fuzz/%.c $(LIB_SOURCES)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -O1 -g -Isrc -Iinclude -ffp-contract=off -fno-math-errno \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_SOURCES_$*)

run: all
	scripts/setup.sh
	./build/lockstep run -p "The three primary colors are" -n 64

bench: all
	scripts/setup.sh --test
	.venv/bin/python bench/compare.py

test:
	scripts/setup.sh --test
	.venv/bin/python tests/run.py

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJECTS:.o=.d) $(CLI_OBJECTS:.o=.d)
