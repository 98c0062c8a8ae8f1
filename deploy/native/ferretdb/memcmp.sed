# modernc.org/libc v1.55.3, ccgo_linux_{amd64,arm64,loong64}.go: memcmp, transpiled from
# musl's C, compares byte by byte in Go. SQLite calls it for every JSON function argument
# (jsonCacheSearch compares the document's text with the parses it keeps), so each index
# expression computed on an insert or update compares the whole document: 8% of FerretDB's
# CPU in a profile of the notify benchmark. The generated function is renamed here and
# memcmp.go.in (copied next to it) defines Xmemcmp with bytes.Compare, which compares
# words at a time. engines.sh fails the build unless all three files changed.
s|^func Xmemcmp(tls \*TLS, vl uintptr, vr uintptr, n Tsize_t) (r1 int32) {$|func xmemcmpBytewise(tls *TLS, vl uintptr, vr uintptr, n Tsize_t) (r1 int32) { // canteen-memcmp|
