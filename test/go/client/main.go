// A Go Destination client for the conformance test (test/go/conformance.test.ts). It is built from Go
// code that protoc generates from the project's proto/*.proto, calls Get and GetProfile on a running
// sluice-controller and prints what it decoded as JSON, so the TypeScript side can check that a peer
// built from the .proto files alone reads Sluice's messages as intended.
//
// Usage: client -addr 127.0.0.1:8086 '<Get|GetProfile>|<path>|<context token>|<messages>' ...
// Calls run one after the other. Each reads that many messages, printing one JSON line per message
// as it arrives, then cancels and prints a final line with `done` and the status code (`OK` after a
// cancel it asked for, else the code the server ended the call with, e.g. `NotFound`).
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang/protobuf/ptypes"
	"github.com/golang/protobuf/ptypes/duration"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "sluice.dev/api/go/destination"
	pbnet "sluice.dev/api/go/net"
)

type addr struct {
	Addr       string            `json:"addr"`
	Weight     uint32            `json:"weight"`
	Labels     map[string]string `json:"labels"`
	Identity   string            `json:"identity"`
	ServerName string            `json:"server_name"`
	Hint       string            `json:"hint"`
}

type update struct {
	Kind      string            `json:"kind"`
	SetLabels map[string]string `json:"set_labels,omitempty"`
	Addrs     []addr            `json:"addrs,omitempty"`
	Removed   []string          `json:"removed,omitempty"`
	Exists    *bool             `json:"exists,omitempty"`
}

type route struct {
	Condition       string            `json:"condition"`
	Labels          map[string]string `json:"labels"`
	Retryable       bool              `json:"retryable"`
	Timeout         string            `json:"timeout"`
	ResponseClasses []string          `json:"response_classes"`
}

type budget struct {
	Ratio        float32 `json:"ratio"`
	MinPerSecond uint32  `json:"min_per_second"`
	TTL          string  `json:"ttl"`
}

type dst struct {
	Authority string `json:"authority"`
	Weight    uint32 `json:"weight"`
}

type profile struct {
	FQN          string  `json:"fqn"`
	Opaque       bool    `json:"opaque"`
	Routes       []route `json:"routes"`
	RetryBudget  *budget `json:"retry_budget"`
	DstOverrides []dst   `json:"dst_overrides"`
	Endpoint     *addr   `json:"endpoint"`
}

// One line of output per event: a decoded message, or the end of a call with its status code.
type event struct {
	Call    int      `json:"call"`
	Method  string   `json:"method"`
	Path    string   `json:"path"`
	Update  *update  `json:"update,omitempty"`
	Profile *profile `json:"profile,omitempty"`
	Done    bool     `json:"done,omitempty"`
	Code    string   `json:"code,omitempty"`
	Message string   `json:"message,omitempty"`
}

// emit writes one JSON line at once (stdout is unbuffered), so a caller can react to each message.
func emit(e event) {
	line, err := json.Marshal(e)
	if err != nil {
		fmt.Fprintf(os.Stderr, "encode: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(line, '\n'))
}

func ipString(ip *pbnet.IPAddress) string {
	switch a := ip.GetIp().(type) {
	case *pbnet.IPAddress_Ipv4:
		b := make(net.IP, 4)
		binary.BigEndian.PutUint32(b, a.Ipv4)
		return b.String()
	case *pbnet.IPAddress_Ipv6:
		b := make(net.IP, 16)
		binary.BigEndian.PutUint64(b[:8], a.Ipv6.GetFirst())
		binary.BigEndian.PutUint64(b[8:], a.Ipv6.GetLast())
		return b.String()
	}
	return "<no ip>"
}

func addrString(a *pbnet.TcpAddress) string {
	return net.JoinHostPort(ipString(a.GetIp()), strconv.Itoa(int(a.GetPort())))
}

func weightedAddr(w *pb.WeightedAddr) addr {
	out := addr{Addr: addrString(w.GetAddr()), Weight: w.GetWeight(), Labels: w.GetMetricLabels()}
	if id := w.GetTlsIdentity(); id != nil {
		out.Identity = id.GetDnsLikeIdentity().GetName()
		out.ServerName = id.GetServerName().GetName()
	}
	if hint := w.GetProtocolHint(); hint != nil {
		switch {
		case hint.GetH2() != nil:
			out.Hint = "h2"
		case hint.GetOpaque() != nil:
			out.Hint = "opaque"
		}
	}
	return out
}

func decodeUpdate(u *pb.Update) update {
	switch x := u.GetUpdate().(type) {
	case *pb.Update_Add:
		out := update{Kind: "add", SetLabels: x.Add.GetMetricLabels()}
		for _, w := range x.Add.GetAddrs() {
			out.Addrs = append(out.Addrs, weightedAddr(w))
		}
		return out
	case *pb.Update_Remove:
		out := update{Kind: "remove"}
		for _, a := range x.Remove.GetAddrs() {
			out.Removed = append(out.Removed, addrString(a))
		}
		return out
	case *pb.Update_NoEndpoints:
		exists := x.NoEndpoints.GetExists()
		return update{Kind: "no_endpoints", Exists: &exists}
	}
	return update{Kind: "<empty>"}
}

func requestMatch(m *pb.RequestMatch) string {
	join := func(name string, ms []*pb.RequestMatch) string {
		parts := make([]string, 0, len(ms))
		for _, inner := range ms {
			parts = append(parts, requestMatch(inner))
		}
		return name + "(" + strings.Join(parts, ",") + ")"
	}
	switch x := m.GetMatch().(type) {
	case *pb.RequestMatch_All:
		return join("all", x.All.GetMatches())
	case *pb.RequestMatch_Any:
		return join("any", x.Any.GetMatches())
	case *pb.RequestMatch_Not:
		return "not(" + requestMatch(x.Not) + ")"
	case *pb.RequestMatch_Path:
		return "path=" + x.Path.GetRegex()
	case *pb.RequestMatch_Method:
		if u := x.Method.GetUnregistered(); u != "" {
			return "method=" + u
		}
		return "method=" + x.Method.GetRegistered().String()
	}
	return "<empty>"
}

func responseMatch(m *pb.ResponseMatch) string {
	join := func(name string, ms []*pb.ResponseMatch) string {
		parts := make([]string, 0, len(ms))
		for _, inner := range ms {
			parts = append(parts, responseMatch(inner))
		}
		return name + "(" + strings.Join(parts, ",") + ")"
	}
	switch x := m.GetMatch().(type) {
	case *pb.ResponseMatch_All:
		return join("all", x.All.GetMatches())
	case *pb.ResponseMatch_Any:
		return join("any", x.Any.GetMatches())
	case *pb.ResponseMatch_Not:
		return "not(" + responseMatch(x.Not) + ")"
	case *pb.ResponseMatch_Status:
		return fmt.Sprintf("status=%d-%d", x.Status.GetMin(), x.Status.GetMax())
	}
	return "<empty>"
}

func durationString(d *duration.Duration) string {
	if d == nil {
		return ""
	}
	t, err := ptypes.Duration(d)
	if err != nil {
		return "invalid: " + err.Error()
	}
	return t.String()
}

func decodeProfile(p *pb.DestinationProfile) profile {
	out := profile{FQN: p.GetFullyQualifiedName(), Opaque: p.GetOpaqueProtocol(), Routes: []route{}, DstOverrides: []dst{}}
	for _, r := range p.GetRoutes() {
		classes := []string{}
		for _, rc := range r.GetResponseClasses() {
			classes = append(classes, fmt.Sprintf("%s failure=%t", responseMatch(rc.GetCondition()), rc.GetIsFailure()))
		}
		timeout := durationString(r.GetTimeout())
		out.Routes = append(out.Routes, route{
			Condition:       requestMatch(r.GetCondition()),
			Labels:          r.GetMetricsLabels(),
			Retryable:       r.GetIsRetryable(),
			Timeout:         timeout,
			ResponseClasses: classes,
		})
	}
	if b := p.GetRetryBudget(); b != nil {
		out.RetryBudget = &budget{Ratio: b.GetRetryRatio(), MinPerSecond: b.GetMinRetriesPerSecond(), TTL: durationString(b.GetTtl())}
	}
	for _, d := range p.GetDstOverrides() {
		out.DstOverrides = append(out.DstOverrides, dst{Authority: d.GetAuthority(), Weight: d.GetWeight()})
	}
	if e := p.GetEndpoint(); e != nil {
		w := weightedAddr(e)
		out.Endpoint = &w
	}
	return out
}

func run(client pb.DestinationClient, index int, spec string) {
	parts := strings.SplitN(spec, "|", 4)
	if len(parts) != 4 {
		fmt.Fprintf(os.Stderr, "bad call %q: want Method|path|token|count\n", spec)
		os.Exit(2)
	}
	count, err := strconv.Atoi(parts[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad count in %q\n", spec)
		os.Exit(2)
	}
	base := event{Call: index, Method: parts[0], Path: parts[1]}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := &pb.GetDestination{Scheme: "k8s", Path: parts[1], ContextToken: parts[2]}
	end := func(err error) {
		done := base
		done.Done = true
		done.Code = "OK"
		if err != nil {
			st := status.Convert(err)
			done.Code = st.Code().String()
			done.Message = st.Message()
		}
		emit(done)
	}
	switch parts[0] {
	case "Get":
		stream, err := client.Get(ctx, req)
		if err != nil {
			end(err)
			return
		}
		for i := 0; i < count; i++ {
			u, err := stream.Recv()
			if err != nil {
				end(err)
				return
			}
			e := base
			decoded := decodeUpdate(u)
			e.Update = &decoded
			emit(e)
		}
	case "GetProfile":
		stream, err := client.GetProfile(ctx, req)
		if err != nil {
			end(err)
			return
		}
		for i := 0; i < count; i++ {
			p, err := stream.Recv()
			if err != nil {
				end(err)
				return
			}
			e := base
			decoded := decodeProfile(p)
			e.Profile = &decoded
			emit(e)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown method %q\n", parts[0])
		os.Exit(2)
	}
	// Enough messages: cancel the stream (the deferred cancel) and report OK.
	end(nil)
}

func main() {
	address := flag.String("addr", "127.0.0.1:8086", "the controller's proxy API")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *address, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", *address, err)
		os.Exit(1)
	}
	defer conn.Close()
	client := pb.NewDestinationClient(conn)
	for i, spec := range flag.Args() {
		run(client, i, spec)
	}
}
