//! What the kernel knows about a listener's UDP socket: the datagrams it
//! dropped because the socket's receive buffer was full. Those never reach
//! the listener, so only the kernel can count them (Linux: the `drops`
//! column of /proc/net/udp and /proc/net/udp6).

/// A UDP socket, known to the kernel by its inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSocket {
    inode: u64,
}

impl KernelSocket {
    /// The socket behind `fd`; None where the platform does not say.
    #[cfg(target_os = "linux")]
    pub fn of(socket: &impl std::os::fd::AsRawFd) -> Option<KernelSocket> {
        use std::os::unix::fs::MetadataExt;
        // The inode of a socket's descriptor is the one /proc/net/udp
        // lists, which tells our socket from any other on the same port
        // (a v4 and a v6 listener, or another process with SO_REUSEPORT).
        let m = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
        Some(KernelSocket { inode: m.ino() })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn of<T>(_socket: &T) -> Option<KernelSocket> {
        None
    }

    /// Datagrams the kernel dropped for this socket so far; None when it
    /// cannot be read.
    pub fn drops(&self) -> Option<u64> {
        ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            drops_in(&text, self.inode)
        })
    }
}

/// The `drops` of the row whose `inode` matches, in the /proc/net/udp
/// layout: `sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref
/// pointer drops`.
fn drops_in(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let ino = cols.get(9)?.parse::<u64>().ok()?;
        if ino != inode {
            return None;
        }
        cols.get(12)?.parse::<u64>().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 44101 2 0000000000000000 0
  124: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 44102 2 0000000000000000 17
";

    #[test]
    fn the_row_is_found_by_inode_not_port() {
        // Both rows are port 514 (0x0202); only the inode tells them apart.
        assert_eq!(drops_in(TABLE, 44102), Some(17));
        assert_eq!(drops_in(TABLE, 44101), Some(0));
        assert_eq!(drops_in(TABLE, 1), None);
    }
}
