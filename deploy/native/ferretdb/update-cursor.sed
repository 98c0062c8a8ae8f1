# FerretDB v1.24.2, internal/handler/msg_update.go: an `update` command with several
# statements (a driver's bulk write) opens a query cursor per statement and closes it with
# `defer` inside the loop, so every cursor, and the pooled SQLite connection under it, stays
# open until the whole command ends. With more statements than the pool's 100 connections
# the next statement waits for a connection forever: the command hangs (found with a bulk
# of ~150 compare-and-swap updates). Closing each statement's cursor when the statement is
# done fixes it; the deferred Close at the end stays (closing twice is harmless).
# engines.sh fails the build if this no longer matches.
s|result, err := common.UpdateDocument(ctx, c, "update", iter, &u)$|result, err := common.UpdateDocument(ctx, c, "update", iter, \&u); closer.Close()|
