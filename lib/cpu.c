/* SPDX-License-Identifier: MIT */
/*
 * cpu.c - the number of CPU slots (see cpu.h).
 */
#include <sys/sysinfo.h>

#include "cpu.h"

unsigned ivm_cpu_slots(void)
{
	int n = get_nprocs_conf();
	return n > 0 ? (unsigned)n : 1;
}
