#ifndef KONTOR_FUZZ_H
#define KONTOR_FUZZ_H

/*
 * Shared by every fuzz target. A target implements LLVMFuzzerTestOneInput
 * (and may implement LLVMFuzzerInitialize); it is linked either with
 * libFuzzer (KONTOR_FUZZ=ON, clang) or with replay.c, which feeds it the
 * seed corpus under CTest with any compiler.
 *
 * Targets check invariants, not only "no crash": FUZZ_ASSERT aborts, which
 * libFuzzer reports as a crash and the replay run as a failed test.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant violated: %s\n",     \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* The input as a NUL-terminated heap string (embedded NULs end it early,
 * as they would for any C string API). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
