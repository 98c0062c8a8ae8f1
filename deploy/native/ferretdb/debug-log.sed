# FerretDB v1.24.2, internal/util/fsql/{db,tx}.go: every SQL statement builds two loggers
# with `l.With(fields...)` to log at debug level, and slog's text handler formats the
# attributes while building them, whatever the level: 6% of FerretDB's CPU in a profile of
# Canteen's write-heavy benchmarks at --log-level=warn. Building them only when debug
# logging is on changes no output. engines.sh fails the build if this no longer matches.
s#^\t\(tx\|db\)\.l\.With(fields\.\.\.)\.DebugContext(\(.*\))$#\tif \1.l.Enabled(ctx, slog.LevelDebug) { \1.l.With(fields...).DebugContext(\2) }#
