// Who this node is in its swarm, held in memory and on disk together: the saved state (cluster and node
// ids, role, addresses, Raft id, known managers) and the certificates with the TLS provider serving
// them. Also what needs the node's certificate to reach the leader: renewals and control calls.
import type * as grpc from '@grpc/grpc-js';
import { UserError } from '../lib/errors.js';
import { callLeader, clientCredentials, TlsMaterialProvider, type TlsMaterial } from '../manager/index.js';
import { renewCertificateAtLeader } from './swarm-pki.js';

/** What a client of the manager port dials with, beside credentials() (also for the e2e tests). */
export { MANAGER_CHANNEL_OPTIONS } from '../manager/index.js';
import {
  clearSwarmState,
  loadCertificates,
  loadSwarmState,
  saveCertificates,
  saveSwarmState,
  type NodeCertificates,
  type SwarmState,
} from './swarm-state.js';
import { services, type ControlClient } from '../api/rpc.js';
import type { UnaryCalls } from '../api/calls.js';

export class SwarmCredentials {
  private current: { state: SwarmState; certs: NodeCertificates; tls: TlsMaterialProvider } | undefined;
  private credentialsFor: { material: TlsMaterial; creds: grpc.ChannelCredentials } | undefined;

  constructor(private readonly dataRoot: string) {}

  /** The swarm state, undefined outside a swarm. Role switches edit it in place, then persist(). */
  get state(): SwarmState | undefined {
    return this.current?.state;
  }

  get tls(): TlsMaterialProvider {
    if (!this.current) throw new Error('swarm credentials: this node is in no swarm');
    return this.current.tls;
  }

  /** Takes on a new membership (init, join), in memory only until persist(). */
  adopt(state: SwarmState, certs: NodeCertificates): void {
    this.current = { state, certs, tls: new TlsMaterialProvider(certs) };
  }

  /** The saved membership, if any; throws when it is there but unusable. */
  load(): SwarmState | undefined {
    const state = loadSwarmState(this.dataRoot);
    if (!state) return undefined;
    const certs = loadCertificates(this.dataRoot);
    if (!certs) throw new UserError(`the swarm certificates in ${this.dataRoot} are missing or torn`);
    this.adopt(state, certs);
    return state;
  }

  persist(): void {
    if (!this.current) return;
    saveCertificates(this.dataRoot, this.current.certs);
    saveSwarmState(this.dataRoot, this.current.state);
  }

  /** The managers a session message listed; saved when they changed. */
  noteManagers(managers: string[]): void {
    const s = this.current?.state;
    if (!s || managers.length === 0 || managers.join() === s.managers.join()) return;
    s.managers = managers;
    saveSwarmState(this.dataRoot, s);
  }

  /** A renewed certificate: the TLS provider serves it from now on. */
  install(c: NodeCertificates): void {
    if (!this.current) return;
    this.current.certs = { caCertPem: c.caCertPem, certPem: c.certPem, keyPem: c.keyPem };
    this.current.tls.update(this.current.certs);
  }

  /** Forgets the swarm in memory and on disk (certificates, Raft log, state). */
  forget(): void {
    this.current = undefined;
    clearSwarmState(this.dataRoot);
  }

  /** Drops the in-memory membership only (a resume that failed: the files stay for `leave --force`). */
  drop(): void {
    this.current = undefined;
  }

  /** One set of client credentials per certificate generation: each costs a TLS context to build. */
  credentials(): grpc.ChannelCredentials {
    const c = this.tls.current;
    if (this.credentialsFor?.material !== c) {
      const creds = clientCredentials({ caCertPem: c.caCertPem, certPem: c.certPem, keyPem: c.keyPem });
      this.credentialsFor = { material: c, creds };
    }
    return this.credentialsFor.creds;
  }

  renewAtLeader(managers: string[]) {
    return renewCertificateAtLeader(managers, this.tls.current);
  }

  /** A control-API call at the leader, trying `managers` in order (duplicates dropped). */
  callLeader<T>(call: (control: UnaryCalls<ControlClient>) => Promise<T>, managers: string[]): Promise<T> {
    return callLeader({
      service: services.control(),
      call,
      managers: [...new Set(managers)],
      credentials: this.credentials(),
    });
  }
}
