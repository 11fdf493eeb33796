// grpcdemo: a real gRPC exchange over HTTP/2 cleartext (h2c, prior
// knowledge) using google.golang.org/grpc: the standard health service
// (grpc.health.v1.Health) with unary Check calls and a server-streaming
// Watch that sees two status changes.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18083", "address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("demo.Service", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	go s.Serve(ln)

	cc, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	cl := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, svc := range []string{"", "demo.Service", "no.such.Service"} {
		r, err := cl.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		fmt.Printf("Check(%q) -> %v err=%v\n", svc, r.GetStatus(), err)
	}
	w, err := cl.Watch(ctx, &healthpb.HealthCheckRequest{Service: "demo.Service"})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		hs.SetServingStatus("demo.Service", healthpb.HealthCheckResponse_NOT_SERVING)
		time.Sleep(100 * time.Millisecond)
		hs.SetServingStatus("demo.Service", healthpb.HealthCheckResponse_SERVING)
	}()
	for i := 0; i < 3; i++ {
		r, err := w.Recv()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("Watch update %d -> %v\n", i+1, r.GetStatus())
	}
	cc.Close()
	time.Sleep(100 * time.Millisecond)
	s.GracefulStop()
	fmt.Println("grpc-go", grpc.Version)
}
