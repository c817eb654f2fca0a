// Forwards the models' readiness to the gRPC health service. Backends can change state before
// the server exists (and after), so the last status is kept and applied once it is attached.
import type { ServingStatus } from 'grpc-health-check';

export class HealthRelay {
  private host?: { setStatus(status: ServingStatus): void };
  private last?: ServingStatus;

  set(status: ServingStatus): void {
    this.last = status;
    this.host?.setStatus(status);
  }

  attach(host: { setStatus(status: ServingStatus): void }): void {
    this.host = host;
    if (this.last) host.setStatus(this.last);
  }
}
