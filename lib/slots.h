/* SPDX-License-Identifier: MIT */
/*
 * slots.h - a queue's own logical slots (slots.c): the parts the flush
 * queue and the domain call.  The calls a driver's queue makes are in
 * util.h (exported for iovamap-dpdk).
 */
#ifndef IVM_SLOTS_H
#define IVM_SLOTS_H

#include <stdint.h>

#include "iovamap/types.h"

struct ivm_domain;

/*
 * slots_release - the flush queue's give-back for entries it took with
 * FLUSHQ_SLOT (flushq.h): each entries[i] (the slot's address in its top
 * bits, flag bits below) names a slot whose invalidation has completed;
 * its slot set, if still alive, may map it again.  An address in no live
 * slot set (its set destroyed meanwhile) is skipped.
 *
 * Context: any thread, after the backend's sync that covered the entries
 * returned.  Blocking: takes the domain's slot-set lock once.
 */
void slots_release(struct ivm_domain *d, const uint64_t *entries,
		   unsigned n);

/* Free every slot set of a domain being destroyed (its handles dangle
 * afterwards, as a reservation's do).  Context: ivm_domain_destroy, with
 * no other caller left. */
void slots_free_all(struct ivm_domain *d);

#endif /* IVM_SLOTS_H */
