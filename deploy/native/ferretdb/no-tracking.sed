# FerretDB v1.24.2, internal/util/resource/resource.go: Track and Untrack return at once.
# Resource tracking is a development aid: per iterator and cursor it adds a pprof profile
# entry with a captured stack and a finalizer that panics if the object was never closed.
# In a profile of feed reads it was 8% of FerretDB's CPU (stack capture, profile map,
# finalizers). engines.sh fails the build unless both functions changed.
s|^func Track(obj any, token \*Token) {$|func Track(obj any, token *Token) { if canteenNoTracking { return }|
s|^func Untrack(obj any, token \*Token) {$|func Untrack(obj any, token *Token) { if canteenNoTracking { return }|
s|^var profilesM sync.Mutex$|var profilesM sync.Mutex\n\nconst canteenNoTracking = true|
