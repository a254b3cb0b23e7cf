// Reads commands on stdin, one per line, and answers each on stdout (test_clockstep.py):
//   now  -> "<System.currentTimeMillis()> <System.nanoTime()>"
//   wait -> nanoseconds Object.wait(300) and LockSupport.parkNanos(300 ms) took, as
//           "<wait ns> <park ns>" (each may wake early only spuriously; with libfaketime's
//           forced monotonic fix both return at once, every time)
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.locks.LockSupport;

public class ClockProbe {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        Object monitor = new Object();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("now")) {
                System.out.println(System.currentTimeMillis() + " " + System.nanoTime());
            } else if (line.equals("wait")) {
                long t0 = System.nanoTime();
                synchronized (monitor) {
                    monitor.wait(300);
                }
                long t1 = System.nanoTime();
                LockSupport.parkNanos(300_000_000L);
                long t2 = System.nanoTime();
                System.out.println((t1 - t0) + " " + (t2 - t1));
            }
            System.out.flush();
        }
    }
}
