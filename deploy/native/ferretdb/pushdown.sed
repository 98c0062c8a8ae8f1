# FerretDB v1.24.2, internal/backends/sqlite/collection.go: Query and Explain build their
# WHERE clause only for a filter that is exactly {_id: x}. Both start that block with the
# same line; it becomes a call of pushdownWhere (pushdown.go.in, copied next to it) and
# the original block is left unreachable (`if false`), so the edit stays one line each.
# engines.sh fails the build unless both places changed.
s|^\tif params\.Filter\.Len() == 1 {$|\twhereClause, args = pushdownWhere(params.Filter); if false {|
