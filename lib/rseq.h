/* SPDX-License-Identifier: MIT */
/*
 * rseq.h - per-CPU restartable sequences: lock-free push and pop on a
 * CPU's own pair of stacks, for the magazine cache (iova.c).
 *
 * Linux restartable sequences (rseq(2), since 4.18; glibc 2.35+ registers
 * the area of every thread and exports it as __rseq_offset / __rseq_size):
 * a thread publishes a descriptor {start_ip, post_commit_offset, abort_ip}
 * in its rseq area; when the kernel preempts, migrates or signals the
 * thread while its instruction pointer lies in [start_ip, start_ip +
 * post_commit_offset), it resumes the thread at abort_ip instead.  A
 * section that reads the CPU number inside itself and ends with one store
 * (the commit) therefore runs as if it owned that CPU: either the whole
 * section ran on one CPU with no other thread of the CPU in between, or
 * the commit never happened.  No atomic read-modify-write is needed.
 *
 * Each section here works on one CPU's record of a per-CPU array and
 * follows this layout contract (the user static-asserts it):
 *
 *   record cpu      at base + (cpu << shift), for cpu < ncpus
 *   record + 0      uint32_t lock word: a section does nothing and returns
 *                   IVM_RSEQ_BUSY while it is non-zero (the owner's slow
 *                   path and cross-CPU drains hold it)
 *   record + pair   struct ivm_rseq_stack_pair (below)
 *   stack + 16      the items (uint64_t) of a stack object; its first 16
 *                   bytes belong to the user
 *
 * A pair holds two stacks; `cur` says which one the sections use.  Its
 * `state` words pack a stack's depth with a count of the pops committed
 * on it, so that the commit store also counts (no extra write for a hit
 * counter).
 *
 * Memory ordering (x86-64 only: TSO).  A section's loads happen in program
 * order, so reading the lock word 0 and then the pair sees everything the
 * last holder stored before its release of the lock.  The kernel's context
 * switch is a full barrier, so a section sees every store of the threads
 * that ran on its CPU before it.  What the sections cannot exclude is a
 * thread on another CPU that takes the lock while a section that already
 * read it as 0 runs on; such a thread must either touch only what the
 * sections do not (the stack that is not `cur`), or fence the CPU with
 * ivm_rseq_fence_cpu() after taking the lock.
 *
 * Build support: the sections exist on x86-64 only, and not under
 * ThreadSanitizer (it cannot see the accesses inside asm, so its checks
 * would be blind on the hottest path; TSan builds use the locked path).
 * Elsewhere ivm_rseq_usable() is false and the section functions are
 * stubs that must not be called.
 */
#ifndef IVM_RSEQ_H
#define IVM_RSEQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ivm_config.h"

#if defined(__x86_64__) && !IVM_TSAN && defined(__has_include)
#if __has_include(<sys/rseq.h>) && __has_include(<linux/membarrier.h>)
#include <sys/rseq.h>
#define IVM_RSEQ_ASM 1
#endif
#endif
#ifndef IVM_RSEQ_ASM
#define IVM_RSEQ_ASM 0
#endif

/* The signature glibc registered the rseq area with (RSEQ_SIG for x86 in
 * glibc's sysdeps); the kernel checks that it precedes every abort_ip. */
#define IVM_RSEQ_SIGNATURE 0x53053053u

/* state word: bits 0..15 depth, bits 16..63 pops committed. */
#define IVM_RSEQ_DEPTH_BITS 16
#define IVM_RSEQ_DEPTH_MASK ((UINT64_C(1) << IVM_RSEQ_DEPTH_BITS) - 1)
#define IVM_RSEQ_ONE_POP    (UINT64_C(1) << IVM_RSEQ_DEPTH_BITS)

/* The depth of a stack from its state word. */
static inline uint64_t ivm_rseq_depth(uint64_t state)
{
	return state & IVM_RSEQ_DEPTH_MASK;
}

/* Where the items start inside a stack object. */
#define IVM_RSEQ_ITEMS_OFFSET 16

struct ivm_rseq_stack_pair {
	/* The two stacks; NULL is a stack of depth 0 that cannot take a
	 * push.  stack[cur] is written only by a holder of the record's
	 * lock that has fenced the CPU (a drain); stack[cur ^ 1] by any
	 * holder of the lock.  Sections only read stack[cur]. */
	void *stack[2];
	/* depth | pops << 16 of each stack.  state[cur]: the sections'
	 * commit store, or a lock holder that fenced the CPU; state[cur ^ 1]:
	 * the lock holder.  Readers without the lock (statistics) load it
	 * relaxed and get a value that was true at some instant. */
	_Atomic uint64_t state[2];
	/* 0 or 1.  While sections may run on the pair: written only by a
	 * lock holder, and only through ivm_rseq_store_on_cpu() on the
	 * record's own CPU (iova.c says why that retires every section that
	 * read the old value). */
	uint64_t cur;
};
_Static_assert(offsetof(struct ivm_rseq_stack_pair, stack) == 0 &&
	       offsetof(struct ivm_rseq_stack_pair, state) == 16 &&
	       offsetof(struct ivm_rseq_stack_pair, cur) == 32 &&
	       sizeof(struct ivm_rseq_stack_pair) == 40,
	       "the asm below hard-codes these offsets");

/* What a section did.  Nothing was written unless IVM_RSEQ_DONE. */
enum ivm_rseq_result {
	IVM_RSEQ_DONE,      /* committed */
	IVM_RSEQ_RESTART,   /* aborted by preemption, migration or a
	                       signal: run it again */
	IVM_RSEQ_BUSY,      /* the record's lock word is set: wait for it
	                       to clear, then run it again */
	IVM_RSEQ_MISS,      /* the stack cannot serve (empty, full or
	                       NULL), the CPU number is >= ncpus, or (store)
	                       the thread is on another CPU: slow path */
};

/*
 * ivm_rseq_usable - may this process run the sections?  True when they
 * are built in (x86-64, not TSan), glibc registered an rseq area for the
 * calling thread, and the kernel accepted this process's registration for
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ and can fence one CPU.  Decided
 * on the first call (pthread_once), the same answer afterwards.
 * Running with GLIBC_TUNABLES=glibc.pthread.rseq=0 makes it false.
 * Context: any thread.  Blocking: the first call makes up to three
 * syscalls.  Ordering: none.
 */
bool ivm_rseq_usable(void);

/*
 * ivm_rseq_fence_cpu - restart whatever section is running on `cpu`: when
 * this returns, every section that ran on `cpu` has either committed (and
 * its stores are visible to the caller) or will restart from its
 * beginning (MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ with
 * MEMBARRIER_CMD_FLAG_CPU: an IPI if a thread of this process runs there).
 * Call after storing the record's lock word, so that the restarted
 * sections see it.  A CPU that is offline or out of range has nothing to
 * fence.  Only when ivm_rseq_usable() is true.
 * Context: any thread.  Blocking: one syscall (an IPI round trip,
 * microseconds).  Ordering: full barrier on this CPU and on `cpu`.
 */
void ivm_rseq_fence_cpu(unsigned cpu);

/* Sections restarted on the calling thread so far (counted on the abort
 * path only); tests prove with it that restarts happened. */
uint64_t ivm_rseq_thread_restarts(void);

/* Debug: is the calling thread's last published rseq descriptor one of
 * the sections below?  Proves that a section ran (the kernel clears the
 * field lazily, on the first preemption after the section). */
bool ivm_rseq_last_section_is_ours(void);

#if IVM_RSEQ_ASM

extern _Thread_local uint64_t ivm_rseq_restart_count;

/*
 * The pieces common to every section, as assembler text.  `cs` is the
 * label of the descriptor (struct rseq_cs: u32 version 0, u32 flags 0, u64
 * start_ip, u64 post_commit_offset, u64 abort_ip, 32-byte aligned) placed
 * in section ivm_rseq_cs (its __start_/__stop_ symbols let
 * ivm_rseq_last_section_is_ours() recognise it); the abort handler lives
 * out of line, after the 4-byte signature (the three bytes before it
 * make the signature decode as one `ud1` instruction, so a disassembler
 * and a stray jump see an invalid opcode rather than garbage), and jumps
 * to the C label `restart`.
 * Labels: 1 start, 2 post-commit, 3 descriptor, 4 abort handler.
 */
#define IVM_RSEQ_DESCRIPTOR                                                 \
	".pushsection ivm_rseq_cs, \"aw\"\n\t"                              \
	".balign 32\n"                                                      \
	"3:\n\t"                                                            \
	".long 0, 0\n\t"                                                    \
	".quad 1f, 2f - 1f, 4f\n\t"                                         \
	".popsection\n\t"                                                   \
	".pushsection .text.unlikely.ivm_rseq_abort, \"ax\", @progbits\n\t" \
	".byte 0x0f, 0xb9, 0x3d\n\t"                                        \
	".long 0x53053053\n"                                                \
	"4:\n\t"                                                            \
	"jmp %l[restart]\n\t"                                               \
	".popsection\n\t"

/* Publish the descriptor (rseq_cs is at offset 8 of struct rseq; the
 * kernel reads it only when it preempts or signals us) through `scratch`,
 * and open the section at label 1.  The CPU number (cpu_id, offset 4) is
 * read inside, by the caller's text that follows. */
#define IVM_RSEQ_ENTER(scratch)                                             \
	"leaq 3b(%%rip), %" scratch "\n\t"                                  \
	"movq %" scratch ", %%fs:8(%[rs])\n"                                \
	"1:\n\t"

_Static_assert(IVM_RSEQ_SIGNATURE == 0x53053053u, "asm text above");
_Static_assert(IVM_RSEQ_ITEMS_OFFSET == 16, "asm text below");

/*
 * The first part of both pair sections, after IVM_RSEQ_ENTER: read the
 * CPU number (MISS if >= ncpus), find the record (base + cpu << shift),
 * BUSY if its lock word is set, then leave &state[cur] of the pair at
 * byte offset `pair` in %[rec], the state word in %[st] and its depth in
 * %[depth].  Operands: rs, ncpus, shift, base, pair; outputs rec, st,
 * depth; labels busy, miss.
 */
#define IVM_RSEQ_PAIR_STATE                                                 \
	"movl %%fs:4(%[rs]), %k[rec]\n\t"                                   \
	"cmpl %[ncpus], %k[rec]\n\t"                                        \
	"jae %l[miss]\n\t"                                                  \
	"shlq %b[shift], %[rec]\n\t"                                        \
	"addq %[base], %[rec]\n\t"                                          \
	"cmpl $0, (%[rec])\n\t"               /* the lock word */           \
	"jne %l[busy]\n\t"                                                  \
	"addq %[pair], %[rec]\n\t"                                          \
	"movq 32(%[rec]), %[st]\n\t"          /* cur */                     \
	"leaq 16(%[rec],%[st],8), %[rec]\n\t" /* &state[cur] */             \
	"movq (%[rec]), %[st]\n\t"                                          \
	"movzwl %w[st], %k[depth]\n\t"

/* The C labels the pair sections' asm goto jumps to. */
#define IVM_RSEQ_PAIR_RESULTS                                               \
restart:                                                                    \
	ivm_rseq_restart_count++;                                           \
	return IVM_RSEQ_RESTART;                                            \
busy:                                                                       \
	return IVM_RSEQ_BUSY;                                               \
miss:                                                                       \
	return IVM_RSEQ_MISS;

/*
 * ivm_rseq_pair_pop - on the calling thread's CPU: if the record's lock
 * word is 0 and stack[cur] of the pair at byte offset `pair` has depth d >
 * 0, *item = items[d - 1] and state[cur] becomes d - 1 with one more pop.
 * Returns IVM_RSEQ_DONE (and *item), or RESTART, BUSY, MISS with nothing
 * written.  Context: any thread.  Blocking: never.  Ordering: none beyond
 * the TSO argument at the top.
 */
static inline enum ivm_rseq_result
ivm_rseq_pair_pop(void *base, unsigned shift, unsigned ncpus, size_t pair,
		  uint64_t *item)
{
	uint64_t rec, st, depth, val;

	__asm__ __volatile__ goto(
		IVM_RSEQ_DESCRIPTOR
		IVM_RSEQ_ENTER("[rec]")
		IVM_RSEQ_PAIR_STATE
		"testl %k[depth], %k[depth]\n\t"
		"jz %l[miss]\n\t"
		"movq -16(%[rec]), %[val]\n\t"        /* stack[cur]: depth > 0,
		                                         so not NULL */
		"movq 8(%[val],%[depth],8), %[val]\n\t" /* items[depth - 1] */
		"addq $0xffff, %[st]\n\t"             /* depth - 1, pops + 1 */
		"movq %[st], (%[rec])\n"              /* commit */
		"2:\n\t"
		: [rec] "=&r"(rec), [st] "=&r"(st), [depth] "=&r"(depth),
		  [val] "=&r"(val)
		: [rs] "r"(__rseq_offset), [ncpus] "rm"(ncpus),
		  [shift] "ci"(shift), [base] "rm"(base), [pair] "r"(pair)
		: "cc", "memory"
		: restart, busy, miss);
	*item = val;
	return IVM_RSEQ_DONE;
	IVM_RSEQ_PAIR_RESULTS
}

/*
 * ivm_rseq_pair_push - on the calling thread's CPU: if the record's lock
 * word is 0, stack[cur] is not NULL and its depth d < capacity,
 * items[d] = item and state[cur] becomes d + 1.  Returns IVM_RSEQ_DONE, or
 * RESTART, BUSY, MISS with nothing committed (items[d] may have been
 * written: it is beyond the depth, so nobody reads it).  capacity <=
 * IVM_RSEQ_DEPTH_MASK.  Context: any thread.  Blocking: never.
 * Ordering: none beyond the TSO argument at the top.
 */
static inline enum ivm_rseq_result
ivm_rseq_pair_push(void *base, unsigned shift, unsigned ncpus, size_t pair,
		   unsigned capacity, uint64_t item)
{
	uint64_t rec, st, depth, stack;

	__asm__ __volatile__ goto(
		IVM_RSEQ_DESCRIPTOR
		IVM_RSEQ_ENTER("[rec]")
		IVM_RSEQ_PAIR_STATE
		"cmpl %[cap], %k[depth]\n\t"
		"jae %l[miss]\n\t"
		"movq -16(%[rec]), %[stack]\n\t"      /* stack[cur] */
		"testq %[stack], %[stack]\n\t"
		"jz %l[miss]\n\t"
		"movq %[item], 16(%[stack],%[depth],8)\n\t" /* items[depth] */
		"addq $1, %[st]\n\t"                  /* depth + 1 */
		"movq %[st], (%[rec])\n"              /* commit */
		"2:\n\t"
		: [rec] "=&r"(rec), [st] "=&r"(st), [depth] "=&r"(depth),
		  [stack] "=&r"(stack)
		: [rs] "r"(__rseq_offset), [ncpus] "rm"(ncpus),
		  [shift] "ci"(shift), [base] "rm"(base), [pair] "r"(pair),
		  [cap] "ri"(capacity), [item] "r"(item)
		: "cc", "memory"
		: restart, busy, miss);
	return IVM_RSEQ_DONE;
	IVM_RSEQ_PAIR_RESULTS
}

/*
 * ivm_rseq_store_on_cpu - *word = value, committed only while the calling
 * thread runs on `cpu`: when it returns IVM_RSEQ_DONE, every section that
 * ran on `cpu` before the store has committed or will restart, and every
 * later one on `cpu` reads the new value.  Returns DONE, RESTART or MISS
 * (running elsewhere); the lock word is not checked (the caller holds it).
 * Context: any thread.  Blocking: never.  Ordering: the compiler keeps
 * every earlier store before it ("memory"); TSO keeps them in order.
 */
static inline enum ivm_rseq_result
ivm_rseq_store_on_cpu(uint64_t *word, uint64_t value, unsigned cpu)
{
	uint64_t scratch;

	__asm__ __volatile__ goto(
		IVM_RSEQ_DESCRIPTOR
		IVM_RSEQ_ENTER("[scratch]")
		"cmpl %[cpu], %%fs:4(%[rs])\n\t"
		"jne %l[miss]\n\t"
		"movq %[value], (%[word])\n"          /* commit */
		"2:\n\t"
		: [scratch] "=&r"(scratch)
		: [rs] "r"(__rseq_offset), [cpu] "r"(cpu), [word] "r"(word),
		  [value] "r"(value)
		: "cc", "memory"
		: restart, miss);
	return IVM_RSEQ_DONE;
restart:
	ivm_rseq_restart_count++;
	return IVM_RSEQ_RESTART;
miss:
	return IVM_RSEQ_MISS;
}

#else /* !IVM_RSEQ_ASM: never called, since ivm_rseq_usable() is false */

static inline enum ivm_rseq_result
ivm_rseq_pair_pop(void *base, unsigned shift, unsigned ncpus, size_t pair,
		  uint64_t *item)
{
	return IVM_RSEQ_MISS;
}

static inline enum ivm_rseq_result
ivm_rseq_pair_push(void *base, unsigned shift, unsigned ncpus, size_t pair,
		   unsigned capacity, uint64_t item)
{
	return IVM_RSEQ_MISS;
}

static inline enum ivm_rseq_result
ivm_rseq_store_on_cpu(uint64_t *word, uint64_t value, unsigned cpu)
{
	return IVM_RSEQ_MISS;
}

#endif /* IVM_RSEQ_ASM */

#endif /* IVM_RSEQ_H */
