import { Construct } from 'constructs';
import { GrpcService, GrpcServiceProps, IMAGE_CALLS_PER_CORE } from './grpc-service.js';

export const FILTER_SERVICE_NAME = 'imageflow-filter';

/** {@link GrpcServiceProps} without the name, which is fixed so the gateway and the DSL find it. */
export type FilterServiceProps = Omit<GrpcServiceProps, 'name'>;

/** The filter service (sharp): 2 replicas, 200m/1 CPU, 512Mi/1Gi memory by default. */
export class FilterService extends GrpcService {
  constructor(scope: Construct, id: string, props: FilterServiceProps) {
    super(scope, id, { callsPerCore: IMAGE_CALLS_PER_CORE, ...props, name: FILTER_SERVICE_NAME });
  }
}
