//! virtio-drivers on bare metal (identity-mapped, no IOMMU), the MMIO device scan, and
//! the embassy-net driver over `VirtIONet`.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::cell::RefCell;
use core::ptr::NonNull;
use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use virtio_drivers::device::net::VirtIONet;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

/// DMA from the heap: physical addresses are virtual ones in M-mode without paging.
pub struct HalImpl;

// SAFETY: allocations are page-aligned, zeroed and exclusively owned until dealloc; with
// no MMU and no IOMMU, the device sees the same addresses the CPU does.
unsafe impl Hal for HalImpl {
    fn dma_alloc(pages: usize, _dir: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("DMA layout");
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).expect("out of memory for virtio DMA");
        (ptr.as_ptr() as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("DMA layout");
        // SAFETY: allocated by dma_alloc with this layout.
        unsafe { dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).expect("null MMIO address")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _dir: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _dir: BufferDirection) {}
}

/// The virt board's eight virtio-mmio slots.
const MMIO_BASE: usize = 0x1000_1000;
const MMIO_SIZE: usize = 0x1000;

/// The first virtio-mmio transport with a device of type `kind`.
pub fn find(kind: DeviceType) -> Option<MmioTransport<'static>> {
    (0..8).find_map(|i| {
        let header = NonNull::new((MMIO_BASE + i * MMIO_SIZE) as *mut VirtIOHeader)?;
        // SAFETY: the virt board maps a virtio-mmio register block at each slot.
        let transport = unsafe { MmioTransport::new(header, MMIO_SIZE) }.ok()?;
        (transport.device_type() == kind).then_some(transport)
    })
}

/// Descriptors per virtio-net queue, each receive one holding a 2 KiB buffer. The
/// TCP sockets' own windows are 2 KiB per connection (berth_embedded::embassy_tcp), so
/// 8 frames in flight are plenty; 16 cost another 16 KiB of heap that, on a board, is
/// the Wi-Fi driver's.
const QUEUE: usize = 8;

type Net = VirtIONet<HalImpl, MmioTransport<'static>, QUEUE>;

/// embassy-net's view of the virtio NIC.
pub struct NetDriver {
    net: RefCell<Net>,
}

impl NetDriver {
    /// Initialises the NIC with 2 KiB buffers.
    pub fn new(transport: MmioTransport<'static>) -> Option<NetDriver> {
        let net = Net::new(transport, 2048).ok()?;
        Some(NetDriver {
            net: RefCell::new(net),
        })
    }
}

/// A received frame.
pub struct Rx<'a> {
    net: &'a RefCell<Net>,
    buf: Option<virtio_drivers::device::net::RxBuffer>,
}

/// Room to send a frame.
pub struct Tx<'a> {
    net: &'a RefCell<Net>,
}

impl embassy_net_driver::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        let mut buf = self.buf.take().expect("one consume per token");
        let r = f(buf.packet_mut());
        let _ = self.net.borrow_mut().recycle_rx_buffer(buf);
        r
    }
}

impl embassy_net_driver::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut net = self.net.borrow_mut();
        let mut tx = net.new_tx_buffer(len);
        let r = f(tx.packet_mut());
        let _ = net.send(tx);
        r
    }
}

impl embassy_net_driver::Driver for NetDriver {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Rx<'_>, Tx<'_>)> {
        let mut net = self.net.borrow_mut();
        if !(net.can_recv() && net.can_send()) {
            cx.waker().wake_by_ref();
            return None;
        }
        let buf = net.receive().ok()?;
        drop(net);
        Some((
            Rx {
                net: &self.net,
                buf: Some(buf),
            },
            Tx { net: &self.net },
        ))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Tx<'_>> {
        if self.net.borrow().can_send() {
            Some(Tx { net: &self.net })
        } else {
            cx.waker().wake_by_ref();
            None
        }
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = 1514;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.net.borrow().mac_address())
    }
}
