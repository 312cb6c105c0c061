// Interop fixture: the real Curator 5.4 x-discovery (Debian's libcurator-discovery-java) against zkctl.
// Usage: CuratorInterop CONNECT BASEPATH register NAME ID PORT SECONDS | list NAME
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;

public class CuratorInterop {
  @SuppressWarnings({"unchecked", "rawtypes"})
  public static void main(String[] a) throws Exception {
    CuratorFramework c = CuratorFrameworkFactory.newClient(a[0], new RetryOneTime(200));
    c.start();
    c.blockUntilConnected();
    ServiceDiscovery<Map> sd = ServiceDiscoveryBuilder.builder(Map.class).client(c).basePath(a[1]).build();
    sd.start();
    if (a[2].equals("register")) {
      Map<String, Object> payload = new LinkedHashMap<>();
      payload.put("weight", 2);
      ServiceInstance<Map> si = ServiceInstance.<Map>builder().name(a[3]).id(a[4]).address("127.0.0.1").port(Integer.parseInt(a[5])).payload(payload).build();
      sd.registerService(si);
      System.out.println("registered");
      System.out.flush();
      Thread.sleep(Long.parseLong(a[6]) * 1000);
    } else {
      for (ServiceInstance<Map> si : sd.queryForInstances(a[3])) {
        Object w = si.getPayload() == null ? null : si.getPayload().get("weight");
        System.out.println(si.getId() + " " + si.getAddress() + " " + si.getPort() + " weight=" + w + " enabled=" + si.isEnabled());
      }
    }
    sd.close();
    c.close();
  }
}
