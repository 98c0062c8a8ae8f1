# FerretDB v1.24.2, internal/backends/collection.go: the backends' contract wrapper
# asserts that a sort is only ever {$natural: 1|-1}. findlimit.go.in passes a find's own
# sort (sortlimit.go.in handles it in the SQLite backend), so the assertion applies to
# $natural sorts only. engines.sh fails the build unless both places (Query, Explain)
# changed.
s|^\tif params\.Sort\.Len() != 0 {$|\tif params.Sort.Len() != 0 \&\& params.Sort.Has("$natural") {|
