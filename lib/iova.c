/* SPDX-License-Identifier: MIT */
/*
 * iova.c - the IOVA allocator front end.  (First version: the range
 * allocator under one lock; the magazine cache replaces this.)
 */
#include "iova.h"

#include <string.h>

#include "atomics.h"
#include "util.h"

static void publish_used(struct ivm_iova *io)
{
	ivm_store_relaxed(&io->used_pages, range_alloc_used_pages(&io->ra));
}

static void iova_lock(struct ivm_iova *io)
{
	if (pthread_mutex_lock(&io->lock) != 0)
		ivm_die("pthread_mutex_lock failed");
}

static void iova_unlock(struct ivm_iova *io)
{
	if (pthread_mutex_unlock(&io->lock) != 0)
		ivm_die("pthread_mutex_unlock failed");
}

ivm_status iova_init(struct ivm_iova *io, unsigned width, bool cache)
{
	memset(io, 0, sizeof(*io));
	ivm_status status = range_alloc_init(&io->ra, width);
	if (status != IVM_STATUS_SUCCESS)
		return status;
	if (pthread_mutex_init(&io->lock, NULL) != 0) {
		range_alloc_fini(&io->ra);
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	}
	io->total_pages = io->ra.total_pages;
	(void)cache;
	return IVM_STATUS_SUCCESS;
}

void iova_fini(struct ivm_iova *io)
{
	pthread_mutex_destroy(&io->lock);
	range_alloc_fini(&io->ra);
}

ivm_status iova_alloc(struct ivm_iova *io, unsigned order, uint64_t min_page,
		      uint64_t max_page, uint64_t *page_out)
{
	iova_lock(io);
	ivm_status status = range_alloc_alloc(&io->ra, order, min_page,
					      max_page, page_out);
	publish_used(io);
	iova_unlock(io);
	return status;
}

void iova_free(struct ivm_iova *io, uint64_t page, unsigned order)
{
	iova_release(io, page, 1ull << order);
}

ivm_status iova_claim(struct ivm_iova *io, uint64_t page, uint64_t pages)
{
	iova_lock(io);
	ivm_status status = range_alloc_claim(&io->ra, page, pages);
	publish_used(io);
	iova_unlock(io);
	return status;
}

void iova_release(struct ivm_iova *io, uint64_t page, uint64_t pages)
{
	iova_lock(io);
	range_alloc_free(&io->ra, page, pages);
	publish_used(io);
	iova_unlock(io);
}

void iova_trim(struct ivm_iova *io)
{
	iova_lock(io);
	range_alloc_trim(&io->ra);
	iova_unlock(io);
}

void iova_get_stats(struct ivm_iova *io, struct iova_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->used_pages = ivm_load_relaxed(&io->used_pages);
}
