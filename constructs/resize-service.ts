import { Construct } from 'constructs';
import { GrpcService, GrpcServiceProps, IMAGE_CALLS_PER_CORE } from './grpc-service.js';

export const RESIZE_SERVICE_NAME = 'imageflow-resize';

/** {@link GrpcServiceProps} without the name, which is fixed so the gateway and the DSL find it. */
export type ResizeServiceProps = Omit<GrpcServiceProps, 'name'>;

/** The resize service (sharp): 2 replicas, 200m/1 CPU, 512Mi/1Gi memory by default. */
export class ResizeService extends GrpcService {
  constructor(scope: Construct, id: string, props: ResizeServiceProps) {
    super(scope, id, { callsPerCore: IMAGE_CALLS_PER_CORE, ...props, name: RESIZE_SERVICE_NAME });
  }
}
