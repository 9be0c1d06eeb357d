/* SPDX-License-Identifier: MIT */
/*
 * ops.h - what ops.c and probes.c share: outcome counting, status
 * checks, random choices, and the operations that call each other.
 */
#ifndef IVM_STRESS_OPS_H
#define IVM_STRESS_OPS_H

#include <stddef.h>

#include "harness.h"
#include "ivm_config.h"
#if IVM_FAULT_INJECTION
#include "fault.h"
#endif

/* Count a call's outcome under op. */
void tally(struct worker *w, enum op op, ivm_status st);

/* Check that st is one of set[0..n); report a violation otherwise. */
bool expect_in(const char *call, ivm_status st, const ivm_status *set,
	       size_t n);
#define EXPECT(call, st, ...)                                                \
	expect_in((call), (st), (const ivm_status[]){ __VA_ARGS__ },         \
		  sizeof((const ivm_status[]){ __VA_ARGS__ }) /               \
			  sizeof(ivm_status))

/* --fault-rate > 0: injected failures may happen in workers. */
bool faults_on(void);
/* INSUFFICIENT_RESOURCES where only an injected failure can cause it
 * (SUCCESS, i.e. nothing new, when none is injected). */
ivm_status injected_or_success(void);

uint32_t pick_perms(struct worker *w);
unsigned pick_phys_type(struct worker *w);
uint64_t pick_pages(struct worker *w, uint64_t max);

/* ivm_translate of page/off of one's own live mapping: exact. */
void check_own_translation(struct worker *w, const struct live *l,
			   uint64_t page, uint64_t off);

/* The operations (ops.c). */
void op_map(struct worker *w, enum op op);
void op_map_explicit(struct worker *w);
void op_unmap(struct worker *w);
void unmap_live(struct worker *w, unsigned i);
void op_identity(struct worker *w);
void op_reserve(struct worker *w);
void resv_free(struct worker *w, int ri);

#endif /* IVM_STRESS_OPS_H */
