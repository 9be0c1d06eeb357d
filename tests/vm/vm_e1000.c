/* SPDX-License-Identifier: MIT */
/*
 * vm_e1000.c - a real DPDK poll-mode driver (net_e1000_em, DPDK 22.11)
 * drives two QEMU e1000 NICs (82540EM) bound to vfio-pci, joined by a QEMU
 * hub: frames sent on port 0 arrive on port 1.  Runs inside the VM test's
 * guest (tests/vm/run-vm.sh --nics e1000), as `vm_e1000 EDU_BDF` with
 * IVM_VM_NICS="BDF0 BDF1".
 *
 * VM_E1000_MODE selects who owns the NICs' DMA:
 *  - "iovamap" (default, the meson test): an iovamap VFIO domain owns both
 *    NICs.  The EAL starts without them (only edu on its allow list, which
 *    no driver claims); the domain attaches both (ivm_domain_attach_device
 *    binds their groups to the domain's container), and only then DPDK
 *    probes them (rte_dev_probe): DPDK finds the groups in the domain's
 *    container and maps nothing there.  The domain maps the descriptor
 *    rings (DPDK memzones "eth_p*") at their DPDK IOVAs
 *    (ivm_dpdk_zones_map), the receive pool at addresses its allocator
 *    picks (ivm_dpdk_pool_map, read and write),
 *    and the transmit pool, made from the program's own memory, read-only
 *    (ivm_dpdk_extmem_map without a device); nothing else of the process
 *    is reachable by the NICs.  VM_E1000_UNMAPPED=rings|pool leaves the
 *    rings or the receive pool out: the negative control (no frame moves,
 *    or frames arrive as zeros; the guest logs DMAR faults).
 *  - "extmem": DPDK probes both NICs into its default container as usual;
 *    a domain without devices only hands out the transmit pool's addresses,
 *    and ivm_dpdk_extmem_map with port 0's device name maps that memory
 *    into DPDK's container at them (rte_dev_dma_map).  The receive pool is
 *    DPDK's.
 *  - "dpdk": plain DPDK, the reference: both NICs in DPDK's default
 *    container, all of DPDK's memory mapped there (IOVA = VA), one pool.
 * VM_E1000_TX_POOL=shared transmits from the receive pool too (no
 * external memory), as the "dpdk" mode always does.
 *
 * Checks: both ports probe and their link comes up; VM_E1000_FRAMES
 * (default 64) frames with a known payload sent on port 0 all arrive on
 * port 1, byte for byte, in order; then a rate run of VM_E1000_RATE_FRAMES
 * (default 20000) frames, counted only; the guest logged no DMAR fault
 * meanwhile.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_pci.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <iovamap/iovamap.h>
#include <iovamap/dpdk.h>

#include "vmtest.h"

#define GROUP "e1000"
#define NB_DESC 128
#define NB_MBUF 1023
#define BURST 32
#define ETHER_TYPE_TEST 0x88b5 /* IEEE 802 local experimental */
#define FRAME_LEN 128          /* bytes on the wire, without the FCS */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* The payload byte at offset i of frame seq. */
static uint8_t pattern(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 31u + i * 7u + 1u);
}

static struct rte_mbuf *make_frame(struct rte_mempool *pool, uint32_t seq,
				   const struct rte_ether_addr *src,
				   const struct rte_ether_addr *dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (!m)
		return NULL;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, FRAME_LEN);
	if (!p) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)p;
	rte_ether_addr_copy(dst, &eh->dst_addr);
	rte_ether_addr_copy(src, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(ETHER_TYPE_TEST);
	uint8_t *payload = p + sizeof(*eh);
	memcpy(payload, &seq, sizeof(seq));
	for (uint32_t i = sizeof(seq); i < FRAME_LEN - sizeof(*eh); i++)
		payload[i] = pattern(seq, i);
	return m;
}

/* Does m hold frame seq, byte for byte?  Explains the first difference. */
static bool frame_ok(const struct rte_mbuf *m, uint32_t seq,
		     const struct rte_ether_addr *src,
		     const struct rte_ether_addr *dst, char *why, size_t n)
{
	/* The PMD strips the FCS (keep_crc off); QEMU pads to 60 bytes only. */
	if (m->pkt_len != FRAME_LEN || m->nb_segs != 1) {
		snprintf(why, n, "length %u segs %u", m->pkt_len, m->nb_segs);
		return false;
	}
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)p;
	if (!rte_is_same_ether_addr(&eh->dst_addr, dst) ||
	    !rte_is_same_ether_addr(&eh->src_addr, src) ||
	    eh->ether_type != rte_cpu_to_be_16(ETHER_TYPE_TEST)) {
		snprintf(why, n, "bad Ethernet header");
		return false;
	}
	const uint8_t *payload = p + sizeof(*eh);
	uint32_t got;
	memcpy(&got, payload, sizeof(got));
	if (got != seq) {
		snprintf(why, n, "sequence %u, expected %u", got, seq);
		return false;
	}
	for (uint32_t i = sizeof(seq); i < FRAME_LEN - sizeof(*eh); i++) {
		if (payload[i] != pattern(seq, i)) {
			snprintf(why, n, "payload byte %u is 0x%02x, expected 0x%02x",
				 i, payload[i], pattern(seq, i));
			return false;
		}
	}
	return true;
}

static bool port_start(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	int r = rte_eth_dev_configure(port, 1, 1, &conf);
	if (r == 0)
		r = rte_eth_rx_queue_setup(port, 0, NB_DESC, rte_socket_id(),
					   NULL, pool);
	if (r == 0)
		r = rte_eth_tx_queue_setup(port, 0, NB_DESC, rte_socket_id(),
					   NULL);
	if (r != 0) {
		vmtest_info("port %u set-up failed: %s", port, rte_strerror(-r));
		return false;
	}
	return true;
}

static bool wait_link(uint16_t port, double seconds)
{
	uint64_t until = vmtest_now_ns() + (uint64_t)(seconds * 1e9);
	struct rte_eth_link link;

	do {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return true;
		usleep(10000);
	} while (vmtest_now_ns() < until);
	return false;
}

/*
 * Send count frames on port tx (bursts of BURST) and receive on port rx
 * until all arrived or timeout_s passed.  With check, every frame is
 * compared.  Returns the number received; *bad the number that differed.
 */
static uint32_t transfer(uint16_t tx, uint16_t rx, struct rte_mempool *pool,
			 uint32_t count, bool check, double timeout_s,
			 uint32_t *bad, uint64_t *ns)
{
	struct rte_ether_addr src, dst;
	rte_eth_macaddr_get(tx, &src);
	rte_eth_macaddr_get(rx, &dst);
	uint32_t sent = 0, received = 0;
	uint64_t t0 = vmtest_now_ns();
	uint64_t until = t0 + (uint64_t)(timeout_s * 1e9);
	*bad = 0;

	while (received < count && vmtest_now_ns() < until) {
		/* Keep at most one ring's worth in flight. */
		if (sent < count && sent - received < NB_DESC - BURST) {
			struct rte_mbuf *burst[BURST];
			uint16_t n = 0;
			while (n < BURST && sent + n < count) {
				burst[n] = make_frame(pool, sent + n, &src, &dst);
				if (!burst[n])
					break;
				n++;
			}
			uint16_t done = rte_eth_tx_burst(tx, 0, burst, n);
			for (uint16_t i = done; i < n; i++)
				rte_pktmbuf_free(burst[i]);
			sent += done;
		}
		struct rte_mbuf *in[BURST];
		uint16_t got = rte_eth_rx_burst(rx, 0, in, BURST);
		for (uint16_t i = 0; i < got; i++) {
			char why[96];
			if (check && !frame_ok(in[i], received, &src, &dst, why,
					       sizeof(why))) {
				if (*bad < 5)
					vmtest_info("frame %u: %s", received, why);
				(*bad)++;
			}
			received++;
			rte_pktmbuf_free(in[i]);
		}
	}
	*ns = vmtest_now_ns() - t0;
	return received;
}

/* --- iovamap: the domain that owns the NICs ------------------------------ */

/*
 * Map the descriptor rings, DPDK memzones "eth_p<port>_q<queue>_<ring>"
 * (rte_eth_dma_zone_reserve), at their DPDK IOVAs: the PMD programs those
 * into the NICs.  Two rings may share a page; the adapter maps it once.
 */
static void rings_map(struct ivm_domain *dom, struct ivm_dpdk_zones **out)
{
	struct ivm_dpdk_zones_info zi = { 0 };
	ivm_status st = ivm_dpdk_zones_map(dom, "eth_p",
					   IVM_PERM_READ | IVM_PERM_WRITE, out);

	if (st == IVM_STATUS_SUCCESS)
		ivm_dpdk_zones_info(*out, &zi);
	/* Two ports, each a receive and a transmit ring. */
	vmtest_checkf(st == IVM_STATUS_SUCCESS && zi.zones >= 4, GROUP,
		      "rings_mapped", "%s %s: %u rings, %u ranges, %" PRIu64
		      " bytes", ivm_status_name(st),
		      st ? ivm_status_detail() : "", zi.zones, zi.ranges,
		      zi.mapped_bytes);
}

/*
 * Map the mbuf pool into the domain with the adapter (read and write: the
 * pool serves both directions) and check that the mbufs now carry the
 * domain's addresses: in IOVA-as-VA mode DPDK's own IOVA of a buffer is
 * its virtual address, iovamap's allocator picks another one.
 */
static void pool_map(struct ivm_domain *dom, struct rte_mempool *pool,
		     struct ivm_dpdk_pool **out)
{
	ivm_status st = ivm_dpdk_pool_map(dom, pool,
					  IVM_PERM_READ | IVM_PERM_WRITE, out);
	vmtest_checkf(st == IVM_STATUS_SUCCESS, GROUP, "pool_map", "%s %s",
		      ivm_status_name(st), st ? ivm_status_detail() : "");
	if (st != IVM_STATUS_SUCCESS)
		return;
	struct ivm_dpdk_pool_info pi = { 0 };
	ivm_dpdk_pool_info(*out, &pi);
	vmtest_info("pool: %u chunks, %u objects, %u mbufs, %" PRIu64
		    " bytes mapped", pi.chunks, pi.objects, pi.mbufs,
		    pi.mapped_bytes);

	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint64_t pa = 0;
	st = m ? ivm_translate(dom, rte_mbuf_data_iova(m), &pa, NULL)
	       : IVM_STATUS_INSUFFICIENT_RESOURCES;
	vmtest_checkf(m && rte_mbuf_data_iova(m) !=
				   (uint64_t)(uintptr_t)rte_pktmbuf_mtod(m, void *) &&
			      st == IVM_STATUS_SUCCESS,
		      GROUP, "mbuf_iova_from_domain",
		      "mbuf data va %p iova 0x%" PRIx64 ", translate %s",
		      m ? rte_pktmbuf_mtod(m, void *) : NULL,
		      m ? (uint64_t)rte_mbuf_data_iova(m) : 0,
		      ivm_status_name(st));
	rte_pktmbuf_free(m);
}

/*
 * The transmit pool from external memory (the adapter's third way): the
 * application's own pages mapped into the domain as one range
 * (ivm_dpdk_extmem_map, also registered with DPDK): read-only when the
 * domain owns the NICs, read-write in the extmem mode, where it is also
 * rte_dev_dma_map'ed for port 0's device), and a packet-mbuf pool populated from them at the
 * domain's address, so every mbuf is born with iovamap's IOVA.
 */
#define EXT_LEN (4u << 20)

static struct rte_mempool *extmem_pool(struct ivm_domain *dom,
				       const char *device,
				       struct ivm_dpdk_extmem **ext,
				       void **mem)
{
	*mem = aligned_alloc(4096, EXT_LEN);
	if (!*mem)
		return NULL;
	memset(*mem, 0, EXT_LEN);
	/* With a device, rte_dev_dma_map maps both ways, and the adapter
	 * takes nothing narrower; without one the domain's mapping is the
	 * device's, read-only. */
	uint32_t perms = device ? IVM_PERM_READ | IVM_PERM_WRITE : IVM_PERM_READ;
	ivm_status st = ivm_dpdk_extmem_map(dom, *mem, EXT_LEN, 4096, perms,
					    device, ext);
	vmtest_checkf(st == IVM_STATUS_SUCCESS, GROUP, "extmem_map",
		      "%s %s", ivm_status_name(st),
		      st ? ivm_status_detail() : "");
	if (st != IVM_STATUS_SUCCESS)
		return NULL;

	unsigned elt = sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE;
	struct rte_mempool *mp = rte_mempool_create_empty(
		"vm_e1000_tx", NB_MBUF, elt, 0,
		sizeof(struct rte_pktmbuf_pool_private), rte_socket_id(), 0);
	if (!mp)
		return NULL;
	int r = rte_mempool_set_ops_byname(mp, "ring_mp_mc", NULL);
	if (r == 0) {
		rte_pktmbuf_pool_init(mp, NULL);
		r = rte_mempool_populate_iova(mp, *mem, ivm_dpdk_extmem_iova(*ext),
					      EXT_LEN, NULL, NULL);
	}
	if (r < 0 || mp->populated_size != NB_MBUF) {
		vmtest_info("extmem pool: populate %d (%s), %u of %u objects", r,
			    r < 0 ? rte_strerror(-r) : "", mp->populated_size,
			    NB_MBUF);
		rte_mempool_free(mp);
		return NULL;
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);

	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	uint64_t pa = 0;
	uint32_t perm = 0;
	st = m ? ivm_translate(dom, rte_mbuf_data_iova(m), &pa, &perm)
	       : IVM_STATUS_INSUFFICIENT_RESOURCES;
	vmtest_checkf(m && st == IVM_STATUS_SUCCESS && perm == perms &&
			      rte_mbuf_data_iova(m) -
					      ivm_dpdk_extmem_iova(*ext) <
				      EXT_LEN,
		      GROUP, "extmem_mbuf_iova",
		      "extmem at 0x%" PRIx64 ", mbuf data iova 0x%" PRIx64
		      ", translate %s, permissions 0x%x (asked 0x%x)",
		      (uint64_t)ivm_dpdk_extmem_iova(*ext),
		      m ? (uint64_t)rte_mbuf_data_iova(m) : 0,
		      ivm_status_name(st), perm, perms);
	rte_pktmbuf_free(m);
	return mp;
}

/* DMAR faults the guest kernel logged so far (busybox dmesg). */
static int dmar_faults(void)
{
	FILE *f = popen("dmesg", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "DMAR: [DMA "))
			n++;
	pclose(f);
	return n;
}

static struct ivm_domain *make_domain(void)
{
	/* VT-d as QEMU 7.2 emulates it translates 39 bits; keep the MSI
	 * window out of the allocator (iovamap/vfio.h). */
	struct ivm_allocator_config alloc = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = 39,
		.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT,
	};
	struct ivm_reserved_region msi = {
		.base = 0xfee00000u, .pages = 0x100, .should_map = false,
	};
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &alloc,
		.backend = IVM_BACKEND_VFIO,
		.reserved = &msi,
		.reserved_count = 1,
	};
	struct ivm_domain *dom = NULL;
	ivm_status st = ivm_domain_create(&cfg, &dom);
	vmtest_checkf(st == IVM_STATUS_SUCCESS, GROUP, "domain_create", "%s",
		      ivm_status_name(st));
	return st == IVM_STATUS_SUCCESS ? dom : NULL;
}

int main(int argc, char **argv)
{
	const char *mode = getenv("VM_E1000_MODE");
	mode = mode && *mode ? mode : "iovamap";
	bool owned = strcmp(mode, "iovamap") == 0; /* the domain owns the NICs */
	bool extmem = strcmp(mode, "extmem") == 0;
	if (!owned && !extmem && strcmp(mode, "dpdk") != 0)
		vmtest_fatal("VM_E1000_MODE=%s: dpdk, iovamap or extmem", mode);
	const char *nics_env = getenv("IVM_VM_NICS");
	char nic[2][32];
	uint32_t frames = (uint32_t)env_u64("VM_E1000_FRAMES", 64);
	uint32_t rate_frames = (uint32_t)env_u64("VM_E1000_RATE_FRAMES", 20000);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || !nics_env ||
	    sscanf(nics_env, "%31s %31s", nic[0], nic[1]) != 2)
		vmtest_fatal("usage: IVM_VM_NICS=\"BDF0 BDF1\" %s EDU_BDF "
			     "(run-vm.sh --nics e1000)", argv[0]);
	vmtest_info("mode %s, NICs %s %s", mode, nic[0], nic[1]);

	/* EAL: 4 KiB pages (no hugetlbfs in the guest), so IOVA as VA.  In
	 * iovamap mode only edu is allowed at start-up, which no DPDK driver
	 * claims: the NICs are probed after the domain attached them. */
	char *eal[16];
	int n = 0;
	eal[n++] = argv[0];
	eal[n++] = "-l";
	eal[n++] = "0";
	eal[n++] = "--no-huge";
	eal[n++] = "-m";
	eal[n++] = "128";
	eal[n++] = "--no-shconf";
	eal[n++] = "--no-telemetry";
	eal[n++] = "--log-level=lib.eal:notice";
	eal[n++] = "-a";
	eal[n++] = owned ? argv[1] : nic[0];
	if (!owned) {
		eal[n++] = "-a";
		eal[n++] = nic[1];
	}
	eal[n] = NULL;
	uint64_t t_eal = vmtest_now_ns();
	if (rte_eal_init(n, eal) < 0)
		vmtest_fatal("rte_eal_init: %s", rte_strerror(rte_errno));
	vmtest_info("EAL up in %.2f s, IOVA mode %s", (vmtest_now_ns() - t_eal) / 1e9,
		    rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");

	int faults_before = dmar_faults();
	struct ivm_domain *dom = NULL;
	if (owned || extmem) {
		dom = make_domain();
		if (!dom)
			vmtest_fatal("no domain");
	}
	if (owned) {
		for (int i = 0; i < 2; i++) {
			struct ivm_vfio_device dev;
			ivm_status st = ivm_domain_attach_device(dom, nic[i], &dev);
			vmtest_checkf(st == IVM_STATUS_SUCCESS, GROUP, "attach",
				      "%s: %s %s", nic[i], ivm_status_name(st),
				      st ? ivm_status_detail() : "");
			if (st != IVM_STATUS_SUCCESS)
				vmtest_fatal("attach");
			int r = rte_dev_probe(nic[i]);
			vmtest_checkf(r == 0, GROUP, "probe_after_attach",
				      "rte_dev_probe(%s): %d %s", nic[i], r,
				      r ? rte_strerror(-r) : "");
		}
	}

	uint16_t nports = rte_eth_dev_count_avail();
	vmtest_checkf(nports == 2, GROUP, "ports", "%u ports", nports);
	if (nports != 2)
		vmtest_fatal("need two ports");
	for (uint16_t p = 0; p < 2; p++) {
		struct rte_eth_dev_info info;
		rte_eth_dev_info_get(p, &info);
		struct rte_ether_addr mac;
		rte_eth_macaddr_get(p, &mac);
		vmtest_info("port %u: %s driver %s MAC " RTE_ETHER_ADDR_PRT_FMT,
			    p, rte_dev_name(info.device), info.driver_name,
			    RTE_ETHER_ADDR_BYTES(&mac));
	}

	struct rte_mempool *pool = rte_pktmbuf_pool_create(
		"vm_e1000", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		rte_socket_id());
	if (!pool)
		vmtest_fatal("rte_pktmbuf_pool_create: %s", rte_strerror(rte_errno));

	for (uint16_t p = 0; p < 2; p++)
		if (!port_start(p, pool))
			vmtest_fatal("port %u", p);

	struct ivm_dpdk_pool *mapped_pool = NULL;
	struct ivm_dpdk_zones *rings = NULL;
	struct ivm_dpdk_extmem *ext = NULL;
	void *ext_mem = NULL;
	struct rte_mempool *tx_pool = pool;
	if (owned) {
		/* VM_E1000_UNMAPPED=rings|pool leaves that out of the
		 * domain: the negative control (the NICs' DMA then faults). */
		const char *unmapped = getenv("VM_E1000_UNMAPPED");
		unmapped = unmapped ? unmapped : "";
		if (strcmp(unmapped, "rings") != 0)
			rings_map(dom, &rings);
		else
			vmtest_info("rings left unmapped (VM_E1000_UNMAPPED)");
		if (strcmp(unmapped, "pool") == 0)
			vmtest_info("pool left unmapped (VM_E1000_UNMAPPED)");
		else
			pool_map(dom, pool, &mapped_pool);
	}
	const char *tx_env = getenv("VM_E1000_TX_POOL");
	bool tx_shared = tx_env && strcmp(tx_env, "shared") == 0;
	if ((owned || extmem) && !tx_shared) {
		/* The device name makes the adapter rte_dev_dma_map the memory,
		 * which DPDK 22.11 does in its default container: right for
		 * NICs DPDK probed itself (extmem), refused (ENODEV, the
		 * default container has no IOMMU) for NICs the domain owns,
		 * whose DMA the domain's own mapping serves. */
		tx_pool = extmem_pool(dom, extmem ? nic[0] : NULL, &ext,
				      &ext_mem);
		if (!tx_pool)
			vmtest_fatal("no transmit pool from external memory");
	}

	for (uint16_t p = 0; p < 2; p++) {
		int r = rte_eth_dev_start(p);
		if (r != 0)
			vmtest_fatal("rte_eth_dev_start(%u): %s", p, rte_strerror(-r));
		rte_eth_promiscuous_enable(p);
	}
	uint64_t t_link = vmtest_now_ns();
	bool up = wait_link(0, 10) && wait_link(1, 10);
	vmtest_checkf(up, GROUP, "link_up", "after %.2f s",
		      (vmtest_now_ns() - t_link) / 1e9);

	uint32_t bad;
	uint64_t ns;
	uint32_t got = transfer(0, 1, tx_pool, frames, true, 20, &bad, &ns);
	vmtest_checkf(got == frames && bad == 0, GROUP, "frames_intact",
		      "%u of %u frames arrived, %u differed, in %.3f s", got,
		      frames, bad, ns / 1e9);

	if (rate_frames > 0) {
		got = transfer(0, 1, tx_pool, rate_frames, false, 30, &bad, &ns);
		vmtest_checkf(got == rate_frames, GROUP, "rate_run",
			      "%u of %u frames in %.3f s: %.0f frames/s "
			      "(guest clock, TCG)", got, rate_frames, ns / 1e9,
			      got / (ns / 1e9));
	}

	struct rte_eth_stats st0, st1;
	rte_eth_stats_get(0, &st0);
	rte_eth_stats_get(1, &st1);
	vmtest_info("port 0: opackets %" PRIu64 " oerrors %" PRIu64
		    "; port 1: ipackets %" PRIu64 " imissed %" PRIu64
		    " ierrors %" PRIu64 " rx_nombuf %" PRIu64,
		    st0.opackets, st0.oerrors, st1.ipackets, st1.imissed,
		    st1.ierrors, st1.rx_nombuf);

	int faults = dmar_faults() - faults_before;
	vmtest_checkf(faults_before >= 0 && faults == 0, GROUP, "no_dmar_fault",
		      "%d DMAR faults logged", faults);

	for (uint16_t p = 0; p < 2; p++)
		rte_eth_dev_stop(p);
	/* The rings' memzones go with their queues at close. */
	ivm_dpdk_zones_unmap(&rings);
	for (uint16_t p = 0; p < 2; p++)
		rte_eth_dev_close(p);
	ivm_dpdk_pool_unmap(&mapped_pool);
	if (tx_pool != pool)
		rte_mempool_free(tx_pool);
	ivm_dpdk_extmem_unmap(&ext);
	free(ext_mem);
	if (owned) {
		/* DPDK lets go of its device fds first; the domain then
		 * closes its own and unbinds the groups. */
		for (int i = 0; i < 2; i++) {
			int r = rte_eal_hotplug_remove("pci", nic[i]);
			vmtest_checkf(r == 0, GROUP, "remove", "%s: %d", nic[i], r);
		}
	}
	ivm_domain_destroy(&dom);
	return vmtest_result();
}
