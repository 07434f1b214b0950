// Go's two-line file server, the peer of examples/file_server.
// go run fileserver.go -root DIR -addr 127.0.0.1:PORT  (GOMAXPROCS=1 in the script)
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	addr := flag.String("addr", "127.0.0.1:8002", "listen address")
	flag.Parse()
	http.Handle("/", http.StripPrefix("/static/", http.FileServer(http.Dir(*root))))
	log.Fatal(http.ListenAndServe(*addr, nil))
}
