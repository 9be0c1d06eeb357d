/* SPDX-License-Identifier: MIT */
/*
 * test_status.c - every status constant has its NTSTATUS value and its name.
 */
#include <string.h>

#include <iovamap/status.h>

#include "check.h"

struct status_row {
	ivm_status value;
	uint32_t ntstatus;
	const char *name;
};

#define ROW(s, v) { IVM_STATUS_##s, v, "IVM_STATUS_" #s }
static const struct status_row rows[] = {
	ROW(SUCCESS, 0x00000000u),
	ROW(UNSUCCESSFUL, 0xC0000001u),
	ROW(NOT_IMPLEMENTED, 0xC0000002u),
	ROW(ACCESS_VIOLATION, 0xC0000005u),
	ROW(INVALID_PARAMETER, 0xC000000Du),
	ROW(INVALID_PARAMETER_MIX, 0xC0000030u),
	ROW(INSUFFICIENT_RESOURCES, 0xC000009Au),
	ROW(NOT_SUPPORTED, 0xC00000BBu),
	ROW(INVALID_PARAMETER_1, 0xC00000EFu),
	ROW(INVALID_PARAMETER_2, 0xC00000F0u),
	ROW(INVALID_PARAMETER_3, 0xC00000F1u),
	ROW(INVALID_PARAMETER_4, 0xC00000F2u),
	ROW(INVALID_PARAMETER_5, 0xC00000F3u),
	ROW(IN_USE, 0xC0000708u),
};
#undef ROW
#define NROWS (sizeof(rows) / sizeof(rows[0]))

IVM_TEST(ntstatus_values)
{
	for (size_t i = 0; i < NROWS; i++) {
		CHECK_EQ_U64((uint32_t)rows[i].value, rows[i].ntstatus);
		CHECK(sizeof(rows[i].value) == 4);
	}
}

IVM_TEST(failures_are_negative)
{
	CHECK(IVM_STATUS_SUCCESS == 0);
	for (size_t i = 1; i < NROWS; i++)
		CHECK(rows[i].value < 0);
}

IVM_TEST(values_distinct)
{
	for (size_t i = 0; i < NROWS; i++)
		for (size_t j = i + 1; j < NROWS; j++)
			CHECK(rows[i].value != rows[j].value);
}

IVM_TEST(names)
{
	for (size_t i = 0; i < NROWS; i++) {
		const char *n = ivm_status_name(rows[i].value);
		CHECK(n != NULL);
		if (n && strcmp(n, rows[i].name) != 0) {
			fprintf(stderr, "  name of 0x%08x: %s, want %s\n",
				(unsigned)rows[i].ntstatus, n, rows[i].name);
			CHECK(0);
		}
	}
}

IVM_TEST(unknown_name)
{
	static const uint32_t unknown[] = {
		0x00000001u, 0x00000103u, 0x80000005u, 0xC0000003u,
		0xC00000F4u, 0xC0000709u, 0xFFFFFFFFu, 0xC00000EEu,
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		const char *n = ivm_status_name((ivm_status)unknown[i]);
		CHECK(n != NULL);
		CHECK(n && strcmp(n, "IVM_STATUS_UNKNOWN") == 0);
	}
}

IVM_TEST_MAIN()
