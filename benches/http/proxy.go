// Go's io.Copy proxy, the peer of examples/proxy (io.Copy between two
// *net.TCPConn splices on Linux). go run proxy.go LISTEN UPSTREAM
package main

import (
	"io"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		go func(c net.Conn) {
			u, err := net.Dial("tcp", os.Args[2])
			if err != nil {
				c.Close()
				return
			}
			done := make(chan struct{})
			go func() {
				io.Copy(c, u)
				c.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(u, c)
			u.(*net.TCPConn).CloseWrite()
			<-done
			c.Close()
			u.Close()
		}(c)
	}
}
