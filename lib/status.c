/* SPDX-License-Identifier: MIT */
/*
 * status.c - status names, the per-thread failure detail, and the one place
 * iovamap gives up.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "iovamap/status.h"
#include "util.h"

IVM_API const char *ivm_status_name(ivm_status status)
{
	switch (status) {
#define NAME(s) case IVM_STATUS_##s: return "IVM_STATUS_" #s
	NAME(SUCCESS);
	NAME(UNSUCCESSFUL);
	NAME(NOT_IMPLEMENTED);
	NAME(ACCESS_VIOLATION);
	NAME(INVALID_PARAMETER);
	NAME(INVALID_PARAMETER_MIX);
	NAME(INSUFFICIENT_RESOURCES);
	NAME(NOT_SUPPORTED);
	NAME(INVALID_PARAMETER_1);
	NAME(INVALID_PARAMETER_2);
	NAME(INVALID_PARAMETER_3);
	NAME(INVALID_PARAMETER_4);
	NAME(INVALID_PARAMETER_5);
	NAME(IN_USE);
#undef NAME
	default:
		return "IVM_STATUS_UNKNOWN";
	}
}

/* One line per thread; long enough for a path and a limit. */
_Thread_local char ivm_status_detail_text[256];

IVM_API const char *ivm_status_detail(void)
{
	return ivm_status_detail_text;
}

IVM_API void ivm_set_status_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ivm_status_detail_text, sizeof(ivm_status_detail_text), fmt,
		  ap);
	va_end(ap);
}

void ivm_die_at(const char *file, int line, const char *func,
		const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "iovamap: %s:%d %s: ", file, line, func);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}
