// Command canteen-ferretdb runs an embedded FerretDB v1.24 (SQLite backend) for
// Canteen's integration tests, and can ping a MongoDB-wire server.
//
//	canteen-ferretdb serve -listen 127.0.0.1:27018 -sqlite-dir /abs/dir [-gogc 400] [-pprof 127.0.0.1:6060]
//	canteen-ferretdb ping  -addr 127.0.0.1:27018 [-timeout 2s]
//
// The embeddable package (github.com/FerretDB/FerretDB/ferretdb) is used on
// purpose: building cmd/ferretdb from the module zip panics at start-up because
// build/version/version.txt is not shipped in the zip; the embedded route skips
// that check (the main module is not github.com/FerretDB/FerretDB).
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof" // only served with -pprof
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: canteen-ferretdb serve|ping [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "ping":
		err = ping(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "canteen-ferretdb:", err)
		os.Exit(1)
	}
}

// sqlitePragmas: FerretDB adds WAL, a busy timeout and auto_vacuum(none) itself. With
// synchronous=FULL (SQLite's default) every write commit fsyncs the WAL; NORMAL syncs it
// at checkpoints only, the setting Canteen's own SQLite store and bus use: durable across
// a crash of the process, like MongoDB's default journal (committed every 100 ms), not
// across a power cut. A larger auto-checkpoint (20,000 pages, ~80 MB of WAL) copies each
// often-rewritten page back less often. Measured: an update by _id costs 0.43 ms of
// FerretDB CPU instead of 0.63 (docs/engines.md).
const sqlitePragmas = "_pragma=synchronous(normal)&_pragma=wal_autocheckpoint(20000)"

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:27018", "TCP listen address")
	dir := fs.String("sqlite-dir", "", "directory for the SQLite databases (created if missing)")
	level := fs.String("log-level", "info", "debug|info|warn|error")
	gogc := fs.Int("gogc", 400, "Go GC target percentage (GOGC in the environment wins)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (off when empty)")
	_ = fs.Parse(args)

	// Decoding documents allocates a lot: with Go's default GOGC=100, the collector took
	// 17% of FerretDB's CPU in a profile of feed reads. 400 trades heap (tens of MB here)
	// for collector time, as a MongoDB server would be given memory.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gogc)
	}
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}

	if *dir == "" {
		return errors.New("-sqlite-dir is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(abs, 0o755); err != nil {
		return err
	}

	var lvl slog.Level
	if err = lvl.UnmarshalText([]byte(*level)); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?" + sqlitePragmas,
	})
	if err != nil {
		return err
	}

	// SIGTERM/SIGINT cancel the context: Run closes the listener, the client
	// connections and the SQLite backend, then returns.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// these three lines are printed whatever the log level
	fmt.Fprintf(os.Stderr, "canteen-ferretdb: starting pid=%d listen=%s sqlite=%s\n", os.Getpid(), *listen, abs)
	go func() {
		// MongoDBURI blocks until the listener is bound.
		fmt.Fprintf(os.Stderr, "canteen-ferretdb: listening uri=%s\n", f.MongoDBURI())
	}()
	err = f.Run(ctx)
	fmt.Fprintln(os.Stderr, "canteen-ferretdb: stopped")
	return err
}

// ping sends OP_MSG {ping: 1, $db: "admin"} and expects {ok: 1}.
func ping(args []string) error {
	fs := flag.NewFlagSet("ping", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:27018", "server address")
	timeout := fs.Duration("timeout", 2*time.Second, "overall timeout")
	_ = fs.Parse(args)

	conn, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(*timeout))

	var doc bytes.Buffer
	doc.Write([]byte{0, 0, 0, 0})
	doc.WriteByte(0x10) // int32
	doc.WriteString("ping\x00")
	_ = binary.Write(&doc, binary.LittleEndian, int32(1))
	doc.WriteByte(0x02) // string
	doc.WriteString("$db\x00")
	_ = binary.Write(&doc, binary.LittleEndian, int32(len("admin")+1))
	doc.WriteString("admin\x00")
	doc.WriteByte(0)
	d := doc.Bytes()
	binary.LittleEndian.PutUint32(d[0:4], uint32(len(d)))

	var msg bytes.Buffer
	_ = binary.Write(&msg, binary.LittleEndian, int32(16+4+1+len(d))) // messageLength
	_ = binary.Write(&msg, binary.LittleEndian, int32(1))             // requestID
	_ = binary.Write(&msg, binary.LittleEndian, int32(0))             // responseTo
	_ = binary.Write(&msg, binary.LittleEndian, int32(2013))          // OP_MSG
	_ = binary.Write(&msg, binary.LittleEndian, uint32(0))            // flagBits
	msg.WriteByte(0)                                                  // section kind 0
	msg.Write(d)
	if _, err = conn.Write(msg.Bytes()); err != nil {
		return err
	}

	hdr := make([]byte, 16)
	if _, err = io.ReadFull(conn, hdr); err != nil {
		return fmt.Errorf("reading reply header: %w", err)
	}
	n := int(binary.LittleEndian.Uint32(hdr[0:4]))
	op := binary.LittleEndian.Uint32(hdr[12:16])
	if op != 2013 || n < 16+5+5 || n > 16<<20 {
		return fmt.Errorf("unexpected reply: opCode=%d length=%d", op, n)
	}
	body := make([]byte, n-16)
	if _, err = io.ReadFull(conn, body); err != nil {
		return fmt.Errorf("reading reply body: %w", err)
	}
	if body[4] != 0 {
		return fmt.Errorf("unexpected section kind %d", body[4])
	}
	ok, err := okField(body[5:])
	if err != nil {
		return err
	}
	if ok != 1 {
		return fmt.Errorf("ping reply ok=%v", ok)
	}
	fmt.Println("ok")
	return nil
}

// okField finds the top-level "ok" number in a BSON document.
func okField(b []byte) (float64, error) {
	if len(b) < 5 {
		return 0, errors.New("short BSON document")
	}
	end := int(binary.LittleEndian.Uint32(b[0:4]))
	if end > len(b) {
		return 0, errors.New("truncated BSON document")
	}
	i := 4
	for i < end-1 {
		t := b[i]
		i++
		j := bytes.IndexByte(b[i:end], 0)
		if j < 0 {
			return 0, errors.New("bad BSON key")
		}
		name := string(b[i : i+j])
		i += j + 1
		var size int
		switch t {
		case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
			size = 8
		case 0x10: // int32
			size = 4
		case 0x08: // bool
			size = 1
		case 0x0A: // null
			size = 0
		case 0x07: // ObjectId
			size = 12
		case 0x02: // string
			size = 4 + int(binary.LittleEndian.Uint32(b[i:i+4]))
		case 0x03, 0x04: // document, array
			size = int(binary.LittleEndian.Uint32(b[i : i+4]))
		case 0x05: // binary
			size = 4 + 1 + int(binary.LittleEndian.Uint32(b[i:i+4]))
		default:
			return 0, fmt.Errorf("unsupported BSON type 0x%02x in reply", t)
		}
		if i+size > end {
			return 0, errors.New("truncated BSON value")
		}
		if name == "ok" {
			switch t {
			case 0x01:
				return math.Float64frombits(binary.LittleEndian.Uint64(b[i : i+8])), nil
			case 0x10:
				return float64(int32(binary.LittleEndian.Uint32(b[i : i+4]))), nil
			case 0x12:
				return float64(int64(binary.LittleEndian.Uint64(b[i : i+8]))), nil
			case 0x08:
				if b[i] != 0 {
					return 1, nil
				}
				return 0, nil
			}
			return 0, fmt.Errorf("ok has BSON type 0x%02x", t)
		}
		i += size
	}
	return 0, errors.New("no ok field in reply")
}
