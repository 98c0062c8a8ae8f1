# FerretDB v1.24.2, internal/handler/msg_find.go (makeFindQueryParams): before its own
# limit rule (a limit only without filter and sort), let canteenSortLimit
# (findlimit.go.in, copied next to it) pass a find's sort and limit to the backend.
# engines.sh fails the build unless the line changed once.
s|^\tif !h.DisablePushdown \&\& params.Filter.Len() == 0 \&\& params.Sort.Len() == 0 \&\& params.Skip == 0 {$|\tif !h.DisablePushdown \&\& canteenSortLimit(qp, params.Filter, params.Sort, params.Limit, params.Skip) {\n\t} else if !h.DisablePushdown \&\& params.Filter.Len() == 0 \&\& params.Sort.Len() == 0 \&\& params.Skip == 0 {|
