//! The public types can cross threads (as their Go and std counterparts can).

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<netpark_net::TcpListener>();
    assert_send_sync::<netpark_net::TcpStream>();
    assert_send_sync::<netpark_net::UnixListener>();
    assert_send_sync::<netpark_net::UnixStream>();
    assert_send_sync::<netpark_net::UdpSocket>();
    assert_send_sync::<netpark_net::Listener>();
    assert_send_sync::<netpark_net::Conn>();
    assert_send_sync::<netpark_net::fd::NetFd>();
    assert_send_sync::<netpark_runtime::Runtime>();
    assert_send_sync::<netpark_runtime::Handle>();
    assert_send_sync::<netpark_runtime::Unparker>();
    assert_send_sync::<netpark_runtime::PollDesc>();
    assert_send_sync::<netpark_runtime::JoinHandle<u64>>();
}
