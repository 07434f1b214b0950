//! Socket syscalls (Go's `internal/poll` + `syscall` socket calls), through the
//! runtime's `syscall!` door. Nothing here blocks: every fd is non-blocking and
//! waiting is the caller's business (`fd.rs`).

use std::ffi::OsStr;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;

use netpark_runtime::sys::retry_eintr;
use netpark_runtime::{raw_syscall, syscall};

/// Creates a non-blocking, close-on-exec socket.
pub(crate) fn socket(family: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket takes three integers and returns a new fd or -1.
    let fd = unsafe {
        syscall!(socket(
            family,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0
        ))
    }?;
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A socket address in the kernel's representation.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    fn empty() -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let storage = unsafe { mem::zeroed() };
        RawAddr {
            storage,
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub(crate) fn family(&self) -> libc::c_int {
        self.storage.ss_family as libc::c_int
    }

    /// Encodes an inet address.
    pub(crate) fn from_inet(addr: &SocketAddr) -> RawAddr {
        let mut raw = RawAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
                unsafe { std::ptr::write(raw.as_mut_ptr().cast(), sin) };
                raw.len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above.
                unsafe { std::ptr::write(raw.as_mut_ptr().cast(), sin6) };
                raw.len = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    /// Decodes an inet address.
    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        match self.family() {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin: libc::sockaddr_in = unsafe { std::ptr::read(self.as_ptr().cast()) };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6: libc::sockaddr_in6 = unsafe { std::ptr::read(self.as_ptr().cast()) };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            f => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unexpected address family {f}"),
            )),
        }
    }

    /// Encodes a unix address.
    pub(crate) fn from_unix(addr: &UnixAddr) -> io::Result<RawAddr> {
        let mut raw = RawAddr::empty();
        // SAFETY: sockaddr_un is plain old data; all-zero is valid.
        let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let (bytes, lead): (&[u8], usize) = match addr {
            UnixAddr::Path(p) => (p.as_os_str().as_bytes(), 0),
            UnixAddr::Abstract(name) => (name.as_slice(), 1),
            UnixAddr::Unnamed => (&[], 0),
        };
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unix socket path contains a NUL byte",
            ));
        }
        // Paths need a terminating NUL; abstract names start with one.
        if lead + bytes.len() >= sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unix socket path too long",
            ));
        }
        for (i, b) in bytes.iter().enumerate() {
            sun.sun_path[lead + i] = *b as libc::c_char;
        }
        let path_offset = mem::size_of::<libc::sa_family_t>();
        let len = match addr {
            UnixAddr::Path(_) => path_offset + bytes.len() + 1,
            UnixAddr::Abstract(_) => path_offset + 1 + bytes.len(),
            UnixAddr::Unnamed => path_offset,
        };
        // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_un.
        unsafe { std::ptr::write(raw.as_mut_ptr().cast(), sun) };
        raw.len = len as libc::socklen_t;
        Ok(raw)
    }

    /// Decodes a unix address.
    pub(crate) fn to_unix(&self) -> UnixAddr {
        let path_offset = mem::size_of::<libc::sa_family_t>();
        let len = self.len as usize;
        if self.family() != libc::AF_UNIX || len <= path_offset {
            return UnixAddr::Unnamed;
        }
        // SAFETY: the family says the storage holds a sockaddr_un.
        let sun: libc::sockaddr_un = unsafe { std::ptr::read(self.as_ptr().cast()) };
        let n = (len - path_offset).min(sun.sun_path.len());
        let bytes: Vec<u8> = sun.sun_path[..n].iter().map(|&c| c as u8).collect();
        if bytes.first() == Some(&0) {
            UnixAddr::Abstract(bytes[1..].to_vec())
        } else {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            UnixAddr::Path(PathBuf::from(OsStr::from_bytes(&bytes[..end])))
        }
    }
}

/// The address of a unix-domain socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A filesystem path.
    Path(PathBuf),
    /// A Linux abstract name (written `@name`, as Go does).
    Abstract(Vec<u8>),
    /// No name (an unbound or socketpair end).
    Unnamed,
}

impl UnixAddr {
    /// Parses Go's notation: `@name` is abstract, anything else a path.
    pub fn parse(s: &str) -> UnixAddr {
        match s.strip_prefix('@') {
            Some(name) => UnixAddr::Abstract(name.as_bytes().to_vec()),
            None => UnixAddr::Path(PathBuf::from(s)),
        }
    }

    /// The path, for a path address.
    pub fn as_pathname(&self) -> Option<&Path> {
        match self {
            UnixAddr::Path(p) => Some(p),
            _ => None,
        }
    }
}

impl std::fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "{}", p.display()),
            UnixAddr::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            UnixAddr::Unnamed => f.write_str("@"),
        }
    }
}

pub(crate) fn bind(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: addr points at `len` initialised bytes of a sockaddr.
    unsafe { syscall!(bind(fd, addr.as_ptr(), addr.len)) }.map(drop)
}

pub(crate) fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen takes two integers.
    unsafe { syscall!(listen(fd, backlog)) }.map(drop)
}

/// Starts a connect; `EINPROGRESS` comes back as an error for the caller to wait on.
pub(crate) fn connect(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: addr points at `len` initialised bytes of a sockaddr.
    unsafe { syscall!(connect(fd, addr.as_ptr(), addr.len)) }.map(drop)
}

/// `accept4` with `SOCK_NONBLOCK|SOCK_CLOEXEC`; `EINTR` retried here.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, RawAddr)> {
    let mut addr = RawAddr::empty();
    let n = retry_eintr(|| {
        addr.len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into addr and updates len.
        unsafe {
            syscall!(accept4(
                fd,
                addr.as_mut_ptr(),
                &mut addr.len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
            ))
        }
    })?;
    // SAFETY: n is a new fd owned by nobody else.
    Ok((unsafe { OwnedFd::from_raw_fd(n) }, addr))
}

pub(crate) fn local_addr(fd: RawFd) -> io::Result<RawAddr> {
    let mut addr = RawAddr::empty();
    // SAFETY: as accept: the kernel writes at most `len` bytes.
    unsafe { syscall!(getsockname(fd, addr.as_mut_ptr(), &mut addr.len)) }?;
    Ok(addr)
}

pub(crate) fn peer_addr(fd: RawFd) -> io::Result<RawAddr> {
    let mut addr = RawAddr::empty();
    // SAFETY: as accept: the kernel writes at most `len` bytes.
    unsafe { syscall!(getpeername(fd, addr.as_mut_ptr(), &mut addr.len)) }?;
    Ok(addr)
}

pub(crate) fn set_opt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: value is a live T and its size is passed along.
    unsafe {
        syscall!(setsockopt(
            fd,
            level,
            name,
            (&value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t
        ))
    }
    .map(drop)
}

pub(crate) fn get_opt<T: Copy + Default>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = T::default();
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into value.
    unsafe {
        syscall!(getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len
        ))
    }?;
    Ok(value)
}

pub(crate) fn set_bool(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    on: bool,
) -> io::Result<()> {
    set_opt(fd, level, name, on as libc::c_int)
}

pub(crate) fn get_bool(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    get_opt::<libc::c_int>(fd, level, name).map(|v| v != 0)
}

/// The pending error of a socket (`SO_ERROR`), as Go checks after connect.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let e: libc::c_int = get_opt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
}

pub(crate) fn shutdown(fd: RawFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown takes two integers.
    unsafe { syscall!(shutdown(fd, how)) }.map(drop)
}

// The data-path calls below (one per read or write) use `raw_syscall!`: see
// its docs for why glibc's wrappers are skipped.

pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { raw_syscall!(SYS_read(fd, buf.as_mut_ptr(), buf.len())) }.map(|n| n as usize)
}

/// `recv(2)`: `recvfrom` with no address, as glibc makes it.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    recvfrom(fd, buf, flags, None)
}

/// `send` with `MSG_NOSIGNAL`: a reset peer is an `EPIPE` error, never a
/// SIGPIPE. `sendto` with no address, as glibc makes it.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    sendto(fd, buf, None)
}

pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the kernel reads at most buf.len() bytes from buf.
    unsafe { raw_syscall!(SYS_write(fd, buf.as_ptr(), buf.len())) }.map(|n| n as usize)
}

pub(crate) fn readv(fd: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    let n = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: IoSliceMut is ABI-compatible with iovec; the kernel writes within each buffer.
    unsafe { raw_syscall!(SYS_readv(fd, bufs.as_mut_ptr(), n)) }.map(|n| n as usize)
}

/// `sendmsg` with `MSG_NOSIGNAL` (a vectored `send`).
pub(crate) fn writev(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: msghdr is plain old data; zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    // SAFETY: IoSlice is ABI-compatible with iovec; the kernel only reads the buffers.
    unsafe {
        raw_syscall!(SYS_sendmsg(
            fd,
            &msg as *const libc::msghdr,
            libc::MSG_NOSIGNAL
        ))
    }
    .map(|n| n as usize)
}

pub(crate) fn recv_from(
    fd: RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, RawAddr)> {
    let mut addr = RawAddr::empty();
    let n = recvfrom(fd, buf, flags, Some(&mut addr))?;
    Ok((n, addr))
}

pub(crate) fn send_to(fd: RawFd, buf: &[u8], addr: &RawAddr) -> io::Result<usize> {
    sendto(fd, buf, Some(addr))
}

/// The one `recvfrom(2)` call, behind `recv` and `recv_from`; `addr`, when
/// given, receives the sender's address.
fn recvfrom(
    fd: RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
    addr: Option<&mut RawAddr>,
) -> io::Result<usize> {
    let (a, len) = match addr {
        Some(a) => (a.as_mut_ptr(), &mut a.len as *mut libc::socklen_t),
        None => (ptr::null_mut(), ptr::null_mut()),
    };
    // SAFETY: the kernel writes at most buf.len() bytes into buf, and, when
    // `a` is not null, at most `*len` bytes into the storage it points at.
    unsafe { raw_syscall!(SYS_recvfrom(fd, buf.as_mut_ptr(), buf.len(), flags, a, len)) }
        .map(|n| n as usize)
}

/// The one `sendto(2)` call (with `MSG_NOSIGNAL`), behind `send` and `send_to`.
fn sendto(fd: RawFd, buf: &[u8], addr: Option<&RawAddr>) -> io::Result<usize> {
    let (a, len) = match addr {
        Some(a) => (a.as_ptr(), a.len),
        None => (ptr::null(), 0),
    };
    // SAFETY: the kernel reads at most buf.len() bytes from buf and `len`
    // bytes from `a` (none when it is null).
    unsafe {
        raw_syscall!(SYS_sendto(
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            a,
            len
        ))
    }
    .map(|n| n as usize)
}

/// Duplicates `fd` with close-on-exec.
pub(crate) fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC returns a new fd or -1.
    let n = unsafe { syscall!(fcntl(fd, libc::F_DUPFD_CLOEXEC, 0)) }?;
    // SAFETY: n is a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// Closes an fd the caller owns and never uses again; errors are not
/// reported, as Go ignores them (Linux releases the fd even on EINTR).
pub(crate) fn close(fd: RawFd) {
    // SAFETY: the caller gives up `fd`; nothing uses the number afterwards.
    let _ = unsafe { syscall!(close(fd)) };
}

// The zero-copy calls behind `netpark_net::io`. Each moves bytes between
// two fds inside the kernel; none of them blocks on a netpark fd (those are
// non-blocking) or on a regular file (which never reports `EAGAIN`).

/// `splice(2)` from `from` to `to` (one must be a pipe) at their current
/// offsets, at most `len` bytes, with `SPLICE_F_MOVE | SPLICE_F_NONBLOCK`.
pub(crate) fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets make the kernel use and advance the fds' own
    // offsets; no user memory is touched.
    unsafe {
        syscall!(splice(
            from,
            ptr::null_mut(),
            to,
            ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK
        ))
    }
    .map(|n| n as usize)
}

/// `sendfile(2)` of at most `len` bytes from `file` at its current offset
/// (which the kernel advances) to `to`.
pub(crate) fn sendfile(to: RawFd, file: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: a null offset makes the kernel use and advance the file offset.
    unsafe { syscall!(sendfile(to, file, ptr::null_mut(), len)) }.map(|n| n as usize)
}

/// `copy_file_range(2)` of at most `len` bytes between two files at their
/// current offsets (both advanced by the kernel).
pub(crate) fn copy_file_range(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets make the kernel use and advance the fds' own offsets.
    unsafe {
        syscall!(copy_file_range(
            from,
            ptr::null_mut(),
            to,
            ptr::null_mut(),
            len,
            0
        ))
    }
    .map(|n| n as usize)
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: the kernel writes two fds into the array.
    unsafe { syscall!(pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC)) }?;
    // SAFETY: both fds were just returned by the kernel and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Asks for a pipe buffer of `bytes` (`F_SETPIPE_SZ`); returns the size the
/// kernel gave, which may be smaller (`/proc/sys/fs/pipe-max-size`, the
/// user's pipe quota) or larger (rounded up to a power of two pages).
pub(crate) fn set_pipe_size(fd: RawFd, bytes: usize) -> io::Result<usize> {
    // SAFETY: fcntl with F_SETPIPE_SZ takes an integer.
    match unsafe { syscall!(fcntl(fd, libc::F_SETPIPE_SZ, bytes as libc::c_int)) } {
        Ok(n) => Ok(n as usize),
        // SAFETY: as above, F_GETPIPE_SZ takes no argument.
        Err(_) => unsafe { syscall!(fcntl(fd, libc::F_GETPIPE_SZ)) }.map(|n| n as usize),
    }
}

/// What `fstat(2)` says an fd is, as far as copying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileType {
    /// A regular file: never `EAGAIN`, has an offset, `sendfile`'s source.
    Regular,
    /// A FIFO or pipe.
    Fifo,
    /// A socket.
    Socket,
    /// A character or block device, a directory, anything else.
    Other,
}

pub(crate) fn file_type(fd: RawFd) -> io::Result<FileType> {
    // SAFETY: stat is plain old data; the kernel fills it in.
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: st is a valid stat buffer for the kernel to write.
    unsafe { syscall!(fstat(fd, &mut st)) }?;
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => FileType::Regular,
        libc::S_IFIFO => FileType::Fifo,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::Other,
    })
}

/// Whether `O_NONBLOCK` is set on the fd's open file description.
pub(crate) fn is_nonblocking(fd: RawFd) -> io::Result<bool> {
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { syscall!(fcntl(fd, libc::F_GETFL)) }?;
    Ok(fl & libc::O_NONBLOCK != 0)
}

/// Bytes between a file's offset and its end (`fstat` size minus `lseek`
/// position): a hint, since the file may grow or shrink meanwhile.
pub(crate) fn file_remaining(fd: RawFd) -> io::Result<u64> {
    // SAFETY: stat is plain old data; the kernel fills it in.
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: st is a valid stat buffer for the kernel to write.
    unsafe { syscall!(fstat(fd, &mut st)) }?;
    // SAFETY: lseek with SEEK_CUR and offset 0 only reads the position.
    let pos = unsafe { syscall!(lseek(fd, 0, libc::SEEK_CUR)) }?;
    Ok((st.st_size as u64).saturating_sub(pos as u64))
}

/// Whether `fd` is ready for `events` now (`poll(2)` with a zero timeout):
/// `Ok` when any of them (or an error or hang-up) is pending, `WouldBlock`
/// otherwise, so the retry loop parks on it.
pub(crate) fn poll_now(fd: RawFd, events: libc::c_short) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and a zero timeout: the call never blocks.
    let n = retry_eintr(|| unsafe { syscall!(poll(&mut p, 1, 0)) })?;
    if n > 0 && p.revents & (events | libc::POLLERR | libc::POLLHUP) != 0 {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}
