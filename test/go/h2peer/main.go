// A Go gRPC peer (grpc-go's own HTTP/2 stack) for the lean HTTP/2 engine's interop tests, with a raw
// codec so that no generated code is needed: messages are opaque bytes.
//
//	h2peer server          listens on 127.0.0.1:0, prints "listening PORT", echoes every call
//	                       (any method; /t.T/TrailersOnly answers NOT_FOUND "no such thing" at once)
//	h2peer client ADDR     unary calls of many sizes, one bidirectional stream of 200 messages and a
//	                       trailers-only error; prints "ok ..." or the first mismatch and exits 1
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type frame struct{ data []byte }

// rawCodec passes message bytes through untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return v.(*frame).data, nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	v.(*frame).data = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string   { return "proto" }
func (rawCodec) String() string { return "proto" }

func pattern(n, offset int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte((offset + i) % 251)
	}
	return out
}

func echo(_ interface{}, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	if method == "/t.T/TrailersOnly" {
		return status.Error(codes.NotFound, "no such thing")
	}
	for {
		var in frame
		if err := stream.RecvMsg(&in); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.SendMsg(&in); err != nil {
			return err
		}
	}
}

func server() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	s := grpc.NewServer(grpc.CustomCodec(rawCodec{}), grpc.UnknownServiceHandler(echo))
	fmt.Printf("listening %d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := s.Serve(lis); err != nil {
		fmt.Println("serve:", err)
		os.Exit(1)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func client(addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure(), grpc.WithBlock(), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		fail("dial: %v", err)
	}
	defer conn.Close()
	unary := 0
	for i := 0; i < 50; i++ {
		want := pattern((i*7919)%70000, i)
		var got frame
		if err := conn.Invoke(ctx, "/t.T/Unary", &frame{want}, &got); err != nil {
			fail("unary %d: %v", i, err)
		}
		if !bytes.Equal(got.data, want) {
			fail("unary %d: %d bytes back, want %d", i, len(got.data), len(want))
		}
		unary++
	}
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/t.T/Chat")
	if err != nil {
		fail("stream: %v", err)
	}
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < 200; i++ {
			if err := stream.SendMsg(&frame{pattern((i*331)%40000, i)}); err != nil {
				sent <- err
				return
			}
		}
		sent <- stream.CloseSend()
	}()
	received := 0
	for {
		var got frame
		err := stream.RecvMsg(&got)
		if err == io.EOF {
			break
		}
		if err != nil {
			fail("stream recv %d: %v", received, err)
		}
		if !bytes.Equal(got.data, pattern((received*331)%40000, received)) {
			fail("stream message %d differs", received)
		}
		received++
	}
	if err := <-sent; err != nil {
		fail("stream send: %v", err)
	}
	var none frame
	err = conn.Invoke(ctx, "/t.T/TrailersOnly", &frame{[]byte("x")}, &none)
	if status.Code(err) != codes.NotFound || status.Convert(err).Message() != "no such thing" {
		fail("trailers-only: %v", err)
	}
	fmt.Printf("ok unary=%d stream=%d trailers-only=%s\n", unary, received, status.Code(err))
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "server" {
		server()
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "client" {
		client(os.Args[2])
		return
	}
	fmt.Println("usage: h2peer server | h2peer client ADDR")
	os.Exit(2)
}
