# FerretDB v1.24.2, internal/backends/sqlite/collection.go (Query): the ORDER BY becomes
# a call of pushdownQuery (sortlimit.go.in, copied next to it), which adds an exact
# condition and, for a find's sort and limit, builds a query that orders and limits (or
# keeps $natural's ORDER BY). engines.sh fails the build unless the line changed once.
s|^\tq += prepareOrderByClause(params.Sort)$|\tq = pushdownQuery(q, params, meta.TableName, meta.Capped(), whereClause, \&args)|
