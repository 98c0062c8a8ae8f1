import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts one OpenSearch node through the codelibs OpenSearchRunner, for
 * deploy/native/engines.sh. Differences from OpenSearchRunner.main:
 *  - the HTTP port is never probed and moved: OpenSearchRunner would silently take the
 *    next free port when baseHttpPort+1 is busy; with maxHttpPort=-1 it uses exactly
 *    baseHttpPort+1 and a busy port makes the start fail;
 *  - a start failure is printed (OpenSearchRunner.main exits 1 without a word).
 * Arguments are OpenSearchRunner's (-basePath, -confPath, -numOfNode, -baseHttpPort, ...).
 */
public final class CanteenOpenSearch {
    public static void main(String[] args) throws Exception {
        final OpenSearchRunner runner = new OpenSearchRunner();
        runner.setMaxHttpPort(-1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }, "canteen-opensearch-shutdown"));
        try {
            runner.build(args);
        } catch (Throwable t) {
            System.err.println("canteen-opensearch: start failed");
            t.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
        System.out.println("canteen-opensearch: node started");
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
