/* SPDX-License-Identifier: MIT */
/*
 * range_alloc.c - the buddy range allocator behind the IOVA cache.
 *
 * Source: the buddy system of Knowlton (1965) as Knuth gives it (TAOCP
 * vol. 1, 2.5, algorithms R and S), in the shape of the Linux page
 * allocator (mm/page_alloc.c: one free set per order, split on
 * allocation, merge with the buddy on free, the buddy of block b of order
 * j being b ^ 2^j).
 *
 * Departures:
 *  - Each order's free blocks sit in an ordered set keyed by first page (a
 *    treap, below), not a list.  The IOMMU contract wants the lowest
 *    address that fits inside a [min_page, max_page] window; with ordered
 *    sets that is one lower_bound per order, whatever the window.
 *  - The space is up to 2^51 pages, so there is no bitmap over it: whether
 *    a buddy is free is a lookup in its order's set.
 *  - Allocated blocks are tracked too, in one set keyed by first page.
 *    free() then needs no size from a size class, can verify that it is
 *    given whole allocations, and never allocates: the nodes of the
 *    allocated blocks it removes carry the free blocks it inserts.
 *  - claim() takes an exact range of any size and alignment; the range is
 *    kept as its minimal aligned decomposition (below), one used node per
 *    piece, so that free() can rely on the node count argument.
 *
 * Minimal aligned decomposition of [a, b): repeatedly take, at a, the
 * largest block aligned to its size that still fits (piece_order()).  No
 * partition of [a, b) into aligned power-of-two blocks has fewer blocks:
 * the first greedy block G is aligned, so every block of another partition
 * lies inside G or misses it (a block strictly containing G would start at
 * a and be larger, contradicting the choice of G), at least one lies
 * inside, and induction covers the rest [end of G, b).  Hence free() of a
 * union of whole allocations always has enough nodes.
 *
 * Complexity (n = nodes in a set, W = max_order + 1 <= 52): alloc is
 * O(W log n) to choose plus O(order of the split block) inserts; free is
 * O(pieces * log n) plus one lookup per merge; claim is
 * O((pieces + free blocks under the range) * W log n).  Every tree
 * operation is expected O(log n): treap priorities are a hash of the key.
 *
 * Concurrency: none.  No two calls on one allocator may run at once; the
 * caller serialises them (see range_alloc.h).
 *
 * Invariants (range_alloc_check() verifies every one):
 *  1. Every block, free or used, is 2^order pages with order <= max_order,
 *     starts at a multiple of 2^order and lies inside [0, total_pages).
 *  2. The free blocks and the used blocks together tile [0, total_pages):
 *     no overlap, no gap.
 *  3. No two free blocks are buddies: free() merges them as it inserts.
 *     With 2, this makes the free blocks exactly the maximal aligned
 *     blocks whose pages are all free.
 *  4. free_root[j] holds exactly the free blocks of order j, free_count[j]
 *     of them; used_root holds the used blocks, used_count of them, and
 *     used_pages is the sum of their sizes.
 *  5. Every set is a treap: in order, keys strictly increase; every node's
 *     priority is node_priority(page) and no smaller than its children's.
 *  6. alloc() and claim() allocate every node they need before changing
 *     anything; free() allocates nothing.
 */
#include "range_alloc.h"

#include <stdalign.h>
#include <string.h>

#include "iovamap/types.h"
#include "mem.h"
#include "util.h"

/*
 * A block: a free block in free_root[order] or a used block in used_root.
 * Outside a tree (in a node pool) only `left` is used, as the stack link.
 */
struct range_node {
	struct range_node *left;   /* subtree of smaller pages */
	struct range_node *right;  /* subtree of larger pages */
	uint64_t page;             /* first page of the block: the key */
	uint32_t priority;         /* node_priority(page), set by treap_insert */
	uint32_t order;            /* the block is 2^order pages */
};

static inline uint64_t order_pages(unsigned order)
{
	return (uint64_t)1 << order;
}

static inline uint64_t node_pages(const struct range_node *node)
{
	return order_pages(node->order);
}

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

/*
 * Spare nodes: a buddy split followed by a merge (one page allocated from
 * a large free block and freed again) takes and returns one node per
 * level, up to 51 of each.  Keeping up to RANGE_SPARE_MAX freed nodes on a
 * per-allocator stack makes that steady state allocation-free; measured
 * with bench/ map_unmap_4k, the malloc/free pairs were over a third of
 * the cycle before.
 */
#define RANGE_SPARE_MAX (2u * (IVM_RANGE_MAX_ORDER + 1))

static struct range_node *node_alloc(struct range_alloc *ra)
{
	struct range_node *node = ra->spare;

	if (node) {
		ra->spare = node->left;
		ra->spare_count--;
		memset(node, 0, sizeof(*node));
		return node;
	}
	return ivm_mem_zalloc(sizeof(struct range_node),
			      alignof(struct range_node));
}

static void node_free(struct range_alloc *ra, struct range_node *node)
{
	if (ra->spare_count < RANGE_SPARE_MAX) {
		node->left = ra->spare;
		ra->spare = node;
		ra->spare_count++;
		return;
	}
	ivm_mem_free(node, sizeof(struct range_node),
		     alignof(struct range_node));
}

static void spare_release(struct range_alloc *ra)
{
	while (ra->spare) {
		struct range_node *next = ra->spare->left;
		ivm_mem_free(ra->spare, sizeof(struct range_node),
			     alignof(struct range_node));
		ra->spare = next;
	}
	ra->spare_count = 0;
}

/*
 * A pool is a stack of spare nodes linked through `left`: alloc and claim
 * fill one before they change anything, and every call empties its pool
 * (into the trees or back to ivm_mem_free) before it returns.
 */
static void pool_push(struct range_node **pool, struct range_node *node)
{
	node->left = *pool;
	node->right = NULL;
	*pool = node;
}

static struct range_node *pool_pop(struct range_node **pool)
{
	struct range_node *node = *pool;

	/* The node counts of alloc, claim and free are exact upper bounds;
	 * running dry means this file is wrong, not the caller. */
	IVM_CHECK(node != NULL);
	*pool = node->left;
	node->left = NULL;
	return node;
}

/* Push count fresh nodes.  False when memory runs out; the nodes pushed so
 * far stay in the pool for the caller's pool_release(). */
static bool pool_fill(struct range_alloc *ra, struct range_node **pool,
		      uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		struct range_node *node = node_alloc(ra);

		if (!node)
			return false;
		pool_push(pool, node);
	}
	return true;
}

static void pool_release(struct range_alloc *ra, struct range_node *pool)
{
	while (pool) {
		struct range_node *next = pool->left;

		node_free(ra, pool);
		pool = next;
	}
}

/* ------------------------------------------------------------------ */
/* Treap: an ordered set keyed by page, heap-ordered by a key hash      */
/* ------------------------------------------------------------------ */

/*
 * The heap key: splitmix64's finalizer of the page.  Deterministic (runs
 * repeat exactly) yet unrelated for neighbouring pages, so the expected
 * depth is O(log n) for the regular key patterns a buddy allocator makes.
 */
static uint32_t node_priority(uint64_t page)
{
	uint64_t z = page + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* Split tree into the keys below key (*below) and the rest (*rest). */
static void treap_split(struct range_node *tree, uint64_t key,
			struct range_node **below, struct range_node **rest)
{
	while (tree) {
		if (tree->page < key) {
			*below = tree;
			below = &tree->right;
			tree = tree->right;
		} else {
			*rest = tree;
			rest = &tree->left;
			tree = tree->left;
		}
	}
	*below = NULL;
	*rest = NULL;
}

/* Join two treaps; every key of low is below every key of high. */
static struct range_node *treap_merge(struct range_node *low,
				      struct range_node *high)
{
	struct range_node *root;
	struct range_node **link = &root;

	while (low && high) {
		if (low->priority >= high->priority) {
			*link = low;
			link = &low->right;
			low = low->right;
		} else {
			*link = high;
			link = &high->left;
			high = high->left;
		}
	}
	*link = low ? low : high;
	return root;
}

/* Insert node (its page not yet in the tree): descend while the nodes
 * outrank it, then split the subtree there around it. */
static void treap_insert(struct range_node **root, struct range_node *node)
{
	struct range_node **link = root;

	node->priority = node_priority(node->page);
	while (*link && (*link)->priority >= node->priority) {
		IVM_ASSERT((*link)->page != node->page);
		link = node->page < (*link)->page ? &(*link)->left
						  : &(*link)->right;
	}
	treap_split(*link, node->page, &node->left, &node->right);
	*link = node;
}

/* Unlink and return the node with this page, or NULL. */
static struct range_node *treap_remove(struct range_node **root,
				       uint64_t page)
{
	struct range_node **link = root;
	struct range_node *node;

	while (*link && (*link)->page != page)
		link = page < (*link)->page ? &(*link)->left : &(*link)->right;
	node = *link;
	if (node) {
		*link = treap_merge(node->left, node->right);
		node->left = NULL;
		node->right = NULL;
	}
	return node;
}

static struct range_node *treap_find(struct range_node *tree, uint64_t page)
{
	while (tree && tree->page != page)
		tree = page < tree->page ? tree->left : tree->right;
	return tree;
}

/* The node with the smallest page >= page, or NULL. */
static struct range_node *treap_lower_bound(struct range_node *tree,
					    uint64_t page)
{
	struct range_node *best = NULL;

	while (tree) {
		if (tree->page >= page) {
			best = tree;
			tree = tree->left;
		} else {
			tree = tree->right;
		}
	}
	return best;
}

/* The node with the largest page < page, or NULL. */
static struct range_node *treap_last_below(struct range_node *tree,
					   uint64_t page)
{
	struct range_node *best = NULL;

	while (tree) {
		if (tree->page < page) {
			best = tree;
			tree = tree->right;
		} else {
			tree = tree->left;
		}
	}
	return best;
}

/* Free every node without recursion: rotate left children up until the
 * root has none, then free the root and go right. */
static void treap_destroy(struct range_node *tree)
{
	while (tree) {
		struct range_node *left = tree->left;

		if (left) {
			tree->left = left->right;
			left->right = tree;
			tree = left;
		} else {
			struct range_node *right = tree->right;

			ivm_mem_free(tree, sizeof(struct range_node),
				     alignof(struct range_node));
			tree = right;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Blocks                                                              */
/* ------------------------------------------------------------------ */

/* Order of the first piece of the minimal aligned decomposition of
 * [a, b), a < b: the largest block aligned at a that fits. */
static unsigned piece_order(const struct range_alloc *ra, uint64_t a,
			    uint64_t b)
{
	unsigned by_size = 63u - (unsigned)__builtin_clzll(b - a);
	unsigned by_align = a ? (unsigned)__builtin_ctzll(a) : ra->max_order;

	IVM_ASSERT(a < b && b <= ra->total_pages);
	return by_align < by_size ? by_align : by_size;
}

/* Number of pieces in the minimal aligned decomposition of [a, b). */
static uint64_t piece_count(const struct range_alloc *ra, uint64_t a,
			    uint64_t b)
{
	uint64_t count = 0;

	while (a < b) {
		a += order_pages(piece_order(ra, a, b));
		count++;
	}
	return count;
}

static void free_insert(struct range_alloc *ra, struct range_node *node)
{
	treap_insert(&ra->free_root[node->order], node);
	ra->free_count[node->order]++;
}

static void free_unlink(struct range_alloc *ra, struct range_node *node)
{
	struct range_node *removed =
		treap_remove(&ra->free_root[node->order], node->page);

	IVM_ASSERT(removed == node);
	(void)removed;
	ra->free_count[node->order]--;
}

/* Unlink and return the free block that starts at page, or NULL.  A block
 * at page has order <= ctz(page) (invariant 1). */
static struct range_node *free_take_at(struct range_alloc *ra, uint64_t page)
{
	unsigned top = page ? (unsigned)__builtin_ctzll(page) : ra->max_order;

	if (top > ra->max_order)
		top = ra->max_order;
	for (unsigned j = 0; j <= top; j++) {
		struct range_node *node;

		if (!ra->free_count[j])
			continue;
		node = treap_remove(&ra->free_root[j], page);
		if (node) {
			ra->free_count[j]--;
			return node;
		}
	}
	return NULL;
}

/* The free block that starts at page, or NULL. */
static struct range_node *free_block_at(const struct range_alloc *ra,
					uint64_t page)
{
	unsigned top = page ? (unsigned)__builtin_ctzll(page) : ra->max_order;

	if (top > ra->max_order)
		top = ra->max_order;
	for (unsigned j = 0; j <= top; j++) {
		struct range_node *node;

		if (!ra->free_count[j])
			continue;
		node = treap_find(ra->free_root[j], page);
		if (node)
			return node;
	}
	return NULL;
}

/* The free block that contains page, or NULL: at order j it can only
 * start at page rounded down to 2^j. */
static struct range_node *free_block_containing(const struct range_alloc *ra,
						uint64_t page)
{
	for (unsigned j = 0; j <= ra->max_order; j++) {
		struct range_node *node;

		if (!ra->free_count[j])
			continue;
		node = treap_find(ra->free_root[j],
				  page & ~(order_pages(j) - 1));
		if (node)
			return node;
	}
	return NULL;
}

/*
 * Make [page, page + 2^order) free, carried by node, merging it with its
 * buddy for as long as the buddy is a free block of the same order
 * (Knuth's algorithm S; Linux __free_one_page).  A merged buddy's node is
 * freed.  Keeps invariant 3.
 */
static void free_insert_merging(struct range_alloc *ra,
				struct range_node *node, uint64_t page,
				unsigned order)
{
	while (order < ra->max_order && ra->free_count[order]) {
		struct range_node *buddy = treap_remove(
			&ra->free_root[order], page ^ order_pages(order));

		if (!buddy)
			break;
		ra->free_count[order]--;
		node_free(ra, buddy);
		page &= ~order_pages(order);
		order++;
	}
	node->page = page;
	node->order = order;
	free_insert(ra, node);
}

static void used_insert(struct range_alloc *ra, struct range_node *node,
			uint64_t page, unsigned order)
{
	node->page = page;
	node->order = order;
	treap_insert(&ra->used_root, node);
	ra->used_count++;
}

/* ------------------------------------------------------------------ */
/* The interface                                                       */
/* ------------------------------------------------------------------ */

ivm_status range_alloc_init(struct range_alloc *ra, unsigned width)
{
	struct range_node *node;

	memset(ra, 0, sizeof(*ra));
	if (width <= IVM_PAGE_SHIFT ||
	    width - IVM_PAGE_SHIFT > IVM_RANGE_MAX_ORDER)
		return IVM_STATUS_INVALID_PARAMETER;
	node = node_alloc(ra);
	if (!node)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	ra->max_order = width - IVM_PAGE_SHIFT;
	ra->total_pages = order_pages(ra->max_order);
	node->page = 0;
	node->order = ra->max_order;
	free_insert(ra, node);
	return IVM_STATUS_SUCCESS;
}

void range_alloc_trim(struct range_alloc *ra)
{
	spare_release(ra);
}

void range_alloc_fini(struct range_alloc *ra)
{
	for (unsigned j = 0; j <= IVM_RANGE_MAX_ORDER; j++)
		treap_destroy(ra->free_root[j]);
	treap_destroy(ra->used_root);
	spare_release(ra);
	memset(ra, 0, sizeof(*ra));
}

ivm_status range_alloc_alloc(struct range_alloc *ra, unsigned order,
			     uint64_t min_page, uint64_t max_page,
			     uint64_t *page_out)
{
	struct range_node *pool = NULL;
	struct range_node *best = NULL;
	uint64_t best_page = 0, size, low, high, cur;
	unsigned j;

	if (order > ra->max_order)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	size = order_pages(order);
	high = max_page < ra->total_pages - 1 ? max_page : ra->total_pages - 1;
	if (min_page > high)
		return IVM_STATUS_INVALID_PARAMETER_MIX;
	/* min_page <= high < 2^51: no overflow below. */
	low = (min_page + size - 1) & ~(size - 1);
	if (low > high || high - low < size - 1)
		return IVM_STATUS_INVALID_PARAMETER_MIX;

	/*
	 * The first aligned candidate is low.  At order j, the free blocks
	 * that can hold an aligned 2^order block at or above low are those
	 * starting at or above low rounded down to 2^j; the lowest of them
	 * gives that order's lowest candidate, max(its page, low).  If that
	 * candidate passes high, every later block's does too.
	 */
	for (j = order; j <= ra->max_order; j++) {
		struct range_node *block;
		uint64_t candidate;

		if (!ra->free_count[j])
			continue;
		block = treap_lower_bound(ra->free_root[j],
					  low & ~(order_pages(j) - 1));
		if (!block)
			continue;
		candidate = block->page > low ? block->page : low;
		if (candidate > high - (size - 1))
			continue;
		if (!best || candidate < best_page) {
			best = block;
			best_page = candidate;
		}
	}
	if (!best)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;

	/* One node per half split off; best's own node becomes the used
	 * block.  Allocate them all before touching anything. */
	if (!pool_fill(ra, &pool, best->order - order)) {
		pool_release(ra, pool);
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	}

	/* Split down towards best_page; the other half at each level is
	 * free, and its buddy (the half we keep) is not, so no merging. */
	free_unlink(ra, best);
	cur = best->page;
	for (j = best->order; j > order; j--) {
		struct range_node *half = pool_pop(&pool);
		uint64_t half_pages = order_pages(j - 1);

		if (best_page < cur + half_pages) {
			half->page = cur + half_pages;
		} else {
			half->page = cur;
			cur += half_pages;
		}
		half->order = j - 1;
		free_insert(ra, half);
	}
	IVM_ASSERT(cur == best_page && pool == NULL);
	used_insert(ra, best, best_page, order);
	ra->used_pages += size;
	*page_out = best_page;
	return IVM_STATUS_SUCCESS;
}

ivm_status range_alloc_claim(struct range_alloc *ra, uint64_t page,
			     uint64_t pages)
{
	struct range_node *pool = NULL;
	struct range_node *first, *last;
	uint64_t end, span_start, span_end, need, have, q;

	if (pages == 0 || page >= ra->total_pages ||
	    pages > ra->total_pages - page)
		return IVM_STATUS_INVALID_PARAMETER;
	end = page + pages;
	if (!range_alloc_is_free(ra, page, pages))
		return IVM_STATUS_IN_USE;

	/*
	 * Every page is free, so free blocks tile the span from the block
	 * holding page to the block holding end - 1 (invariant 2).  After the
	 * claim, [span_start, page) and [end, span_end) are free and
	 * [page, end) used, each as its minimal decomposition; the free
	 * blocks of the span give back their nodes.
	 */
	first = free_block_containing(ra, page);
	last = free_block_containing(ra, end - 1);
	IVM_CHECK(first != NULL && last != NULL);
	span_start = first->page;
	span_end = last->page + node_pages(last);
	need = piece_count(ra, span_start, page) +
	       piece_count(ra, end, span_end) + piece_count(ra, page, end);
	/* Count the span's blocks, but only as far as need. */
	have = 0;
	for (q = span_start; q < span_end && have < need; have++) {
		struct range_node *block = free_block_at(ra, q);

		IVM_CHECK(block != NULL);
		q += node_pages(block);
	}
	if (need > have && !pool_fill(ra, &pool, need - have)) {
		pool_release(ra, pool);
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	}

	/* Nothing can fail from here on. */
	for (q = span_start; q < span_end;) {
		struct range_node *block = free_take_at(ra, q);

		IVM_CHECK(block != NULL);
		q += node_pages(block);
		pool_push(&pool, block);
	}
	/* The leftover pieces' buddies overlap the claimed range, so none
	 * merges; the merging insert is only there to keep invariant 3
	 * obviously true. */
	for (q = span_start; q < page;) {
		unsigned o = piece_order(ra, q, page);

		free_insert_merging(ra, pool_pop(&pool), q, o);
		q += order_pages(o);
	}
	for (q = end; q < span_end;) {
		unsigned o = piece_order(ra, q, span_end);

		free_insert_merging(ra, pool_pop(&pool), q, o);
		q += order_pages(o);
	}
	for (q = page; q < end;) {
		unsigned o = piece_order(ra, q, end);

		used_insert(ra, pool_pop(&pool), q, o);
		q += order_pages(o);
	}
	pool_release(ra, pool);
	ra->used_pages += pages;
	return IVM_STATUS_SUCCESS;
}

void range_alloc_free(struct range_alloc *ra, uint64_t page, uint64_t pages)
{
	struct range_node *pool = NULL;
	uint64_t end = page + pages;
	uint64_t q = page;

	IVM_ASSERT(pages != 0 && page < ra->total_pages &&
		   pages <= ra->total_pages - page);

	/* Take the used blocks that tile [page, end), in address order. */
	while (q < end && ra->used_count) {
		struct range_node *block = treap_remove(&ra->used_root, q);

		if (!block)
			break;
		ra->used_count--;
		q += node_pages(block);
		pool_push(&pool, block);
	}
	/* Anything else is a caller bug: stop in debug builds; in release
	 * builds put the blocks back and change nothing (a leak beats a
	 * double allocation). */
	IVM_ASSERT(q == end && "range_alloc_free: not whole allocations");
	if (q != end) {
		while (pool) {
			struct range_node *block = pool_pop(&pool);

			treap_insert(&ra->used_root, block);
			ra->used_count++;
		}
		return;
	}

	/* The minimal decomposition has no more pieces than the blocks just
	 * taken (see the top of the file), so the pool suffices. */
	ra->used_pages -= pages;
	for (q = page; q < end;) {
		unsigned o = piece_order(ra, q, end);

		free_insert_merging(ra, pool_pop(&pool), q, o);
		q += order_pages(o);
	}
	pool_release(ra, pool);
}

bool range_alloc_is_free(const struct range_alloc *ra, uint64_t page,
			 uint64_t pages)
{
	const struct range_node *block;

	if (pages == 0)
		return true;
	if (page >= ra->total_pages || pages > ra->total_pages - page)
		return false;
	/* Used blocks do not overlap, so only the last one starting before
	 * the end of the range can reach into it. */
	block = treap_last_below(ra->used_root, page + pages);
	return !block || block->page + node_pages(block) <= page;
}

/* ------------------------------------------------------------------ */
/* Invariant walk                                                      */
/* ------------------------------------------------------------------ */

struct tree_totals {
	uint64_t nodes;
	uint64_t pages;
};

/*
 * Check the subtree at node against invariants 1, 3 and 5: keys in
 * [low, high), heap order, blocks aligned and inside the space.  order is
 * the order every block must have (a free set) or -1 (the used set).
 */
static bool tree_check(const struct range_alloc *ra,
		       const struct range_node *node, uint64_t low,
		       uint64_t high, int order, struct tree_totals *totals)
{
	if (!node)
		return true;
	if (node->page < low || node->page >= high)
		return false;
	if (node->priority != node_priority(node->page))
		return false;
	if ((node->left && node->left->priority > node->priority) ||
	    (node->right && node->right->priority > node->priority))
		return false;
	if (node->order > ra->max_order ||
	    (order >= 0 && node->order != (unsigned)order))
		return false;
	if (node->page & (node_pages(node) - 1) ||
	    node_pages(node) > ra->total_pages - node->page)
		return false;
	/* Invariant 3: the buddy is not a free block of the same order. */
	if (order >= 0 && node->order < ra->max_order &&
	    treap_find(ra->free_root[node->order],
		       node->page ^ node_pages(node)))
		return false;
	totals->nodes++;
	totals->pages += node_pages(node);
	return tree_check(ra, node->left, low, node->page, order, totals) &&
	       tree_check(ra, node->right, node->page + 1, high, order,
			  totals);
}

bool range_alloc_check(const struct range_alloc *ra)
{
	struct tree_totals used = { 0, 0 };
	uint64_t free_nodes = 0, free_pages = 0, blocks = 0, q;

	if (ra->max_order < 1 || ra->max_order > IVM_RANGE_MAX_ORDER ||
	    ra->total_pages != order_pages(ra->max_order))
		return false;

	/* Invariants 1, 3, 4 and 5, set by set. */
	for (unsigned j = 0; j <= IVM_RANGE_MAX_ORDER; j++) {
		struct tree_totals t = { 0, 0 };

		if (j > ra->max_order) {
			if (ra->free_root[j] || ra->free_count[j])
				return false;
			continue;
		}
		if (!tree_check(ra, ra->free_root[j], 0, ra->total_pages,
				(int)j, &t) ||
		    t.nodes != ra->free_count[j])
			return false;
		free_nodes += t.nodes;
		free_pages += t.pages;
	}
	if (!tree_check(ra, ra->used_root, 0, ra->total_pages, -1, &used) ||
	    used.nodes != ra->used_count || used.pages != ra->used_pages ||
	    free_pages + used.pages != ra->total_pages)
		return false;

	/* Invariant 2: walk the space block by block; exactly one block
	 * starts where the previous one ends, and the walk visits every
	 * node (so no block hides under another). */
	for (q = 0; q < ra->total_pages; blocks++) {
		const struct range_node *in_use = treap_find(ra->used_root, q);
		const struct range_node *in_free = free_block_at(ra, q);

		if (!in_use == !in_free)
			return false;
		q += node_pages(in_use ? in_use : in_free);
	}
	return q == ra->total_pages && blocks == free_nodes + used.nodes;
}
