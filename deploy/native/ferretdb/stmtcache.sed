# modernc.org/sqlite v1.32.0, sqlite.go: the driver's own prepare and finalize become the
# raw ones behind stmtcache.go.in's per-connection statement cache; a connection gets the
# cache's field and finalizes what it keeps before it closes. engines.sh fails the build
# unless all four lines changed.
s|^func (c \*conn) prepareV2(zSQL \*uintptr) (pstmt uintptr, err error) {$|func (c *conn) prepareV2Raw(zSQL *uintptr) (pstmt uintptr, err error) { // canteen-stmtcache|
s|^func (c \*conn) finalize(pstmt uintptr) error {$|func (c *conn) finalizeRaw(pstmt uintptr) error { // canteen-stmtcache|
s|^\tbeginMode       string$|\tbeginMode       string\n\tstmts           *canteenStmtCache // canteen-stmtcache|
s|^\t\tif err := c.closeV2(c.db); err != nil {$|\t\tc.canteenFinalizeAll() // canteen-stmtcache\n\t\tif err := c.closeV2(c.db); err != nil {|
