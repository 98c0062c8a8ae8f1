import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;

/**
 * Readiness probe for the native test broker (deploy/native/engines.sh):
 * retries an admin call (describe cluster + list topics) until it succeeds or the deadline
 * passes. Fails fast when the broker process (pid) is gone.
 *
 * Usage: java -cp 'libs/*:classes' KafkaReady BOOTSTRAP TIMEOUT_SECONDS [BROKER_PID]
 */
public final class KafkaReady {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[1]));
        long pid = args.length > 2 ? Long.parseLong(args[2]) : -1;

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "200");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "canteen-kafka-ready");

        String last = "no attempt";
        try (Admin admin = Admin.create(props)) {
            while (true) {
                if (pid > 0 && !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    System.err.println("kafka-ready: broker process " + pid + " is gone (" + last + ")");
                    System.exit(3);
                }
                try {
                    int nodes = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
                    Set<String> topics = admin.listTopics(new ListTopicsOptions().listInternal(true))
                            .names().get(5, TimeUnit.SECONDS);
                    if (nodes > 0) {
                        System.out.println("kafka-ready: ok brokers=" + nodes + " topics=" + topics.size());
                        warmGroupCoordinator(admin);
                        return;
                    }
                    last = "no broker in metadata yet";
                } catch (Exception e) {
                    Throwable c = e.getCause() != null ? e.getCause() : e;
                    last = c.getClass().getSimpleName() + ": " + c.getMessage();
                }
                if (System.nanoTime() > deadline) {
                    System.err.println("kafka-ready: timed out; last error: " + last);
                    System.exit(2);
                }
                Thread.sleep(500);
            }
        }
    }

    /**
     * A coordinator lookup creates __consumer_offsets now rather than at the first group join
     * of a test (which otherwise sees GroupCoordinatorNotAvailable once and retries). Best effort.
     */
    private static void warmGroupCoordinator(Admin admin) {
        for (int i = 0; i < 20; i++) {
            try {
                admin.listConsumerGroupOffsets("canteen-warmup").partitionsToOffsetAndMetadata()
                        .get(5, TimeUnit.SECONDS);
                return;
            } catch (Exception e) {
                try {
                    Thread.sleep(250);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }
}
