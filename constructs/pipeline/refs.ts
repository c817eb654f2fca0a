// Typed handles the DSL hands out. Each one knows the document value it stands for; the phantom
// type parameters are what make wrong wiring a compile error (a detection list is not an image, a
// string parameter is not a number, an enum parameter only fits options with the same values).
import type { CompareOp, Condition, ItemValue, ParamValue, StepValue } from './document.js';

/** A scalar pipeline parameter usable wherever a gateway option of type T is expected. */
export class Param<T> {
  /** Never set: carries T for the type checker only. */
  declare readonly __valueType?: T;
  constructor(readonly name: string) {}
  toValue(): ParamValue {
    return { $param: this.name };
  }
  eq(value: T): Condition {
    return { param: this.name, op: '==', value: value as string | number | boolean };
  }
  ne(value: T): Condition {
    return { param: this.name, op: '!=', value: value as string | number | boolean };
  }
  gt(this: Param<number>, value: number): Condition {
    return { param: this.name, op: '>', value };
  }
  gte(this: Param<number>, value: number): Condition {
    return { param: this.name, op: '>=', value };
  }
  lt(this: Param<number>, value: number): Condition {
    return { param: this.name, op: '<', value };
  }
  lte(this: Param<number>, value: number): Condition {
    return { param: this.name, op: '<=', value };
  }
  isTrue(this: Param<boolean>): Condition {
    return { param: this.name, op: '==', value: true };
  }
  isFalse(this: Param<boolean>): Condition {
    return { param: this.name, op: '==', value: false };
  }
}

/** An image: an object-key parameter, a step's output image, or the current image of a forEach. */
export class ImageRef {
  declare private readonly __brand: 'image';
  constructor(readonly value: ParamValue | StepValue | ItemValue) {}
  toValue(): ParamValue | StepValue | ItemValue {
    return this.value;
  }
}

/** A list of object keys (an `objectKeys` parameter): only forEach takes it. */
export class ImageListRef {
  declare private readonly __brand: 'image-list';
  constructor(readonly name: string) {}
  toValue(): ParamValue {
    return { $param: this.name };
  }
}

export interface DetectionFilter {
  /** Count only these labels (e.g. ["person"]). Default: all. */
  readonly labels?: readonly string[];
  /** Count only detections at least this confident. */
  readonly minConfidence?: number;
}

/** The detections of a detect step; builds typed `when` conditions. */
export class DetectionsRef {
  declare private readonly __brand: 'detections';
  constructor(readonly stepId: string) {}
  /** The number of detections matching the filter, to compare with a number. */
  count(filter: DetectionFilter = {}): DetectionCount {
    return new DetectionCount(this.stepId, filter);
  }
  /** At least one detection matches. */
  any(filter: DetectionFilter = {}): Condition {
    return this.count(filter).atLeast(1);
  }
  /** No detection matches. */
  none(filter: DetectionFilter = {}): Condition {
    return this.count(filter).equals(0);
  }
}

export class DetectionCount {
  constructor(
    private readonly stepId: string,
    private readonly filter: DetectionFilter,
  ) {}
  private compare(op: CompareOp, count: number): Condition {
    return {
      detections: this.stepId,
      ...(this.filter.labels ? { labels: [...this.filter.labels] } : {}),
      ...(this.filter.minConfidence !== undefined ? { minConfidence: this.filter.minConfidence } : {}),
      op,
      count,
    };
  }
  atLeast(n: number): Condition {
    return this.compare('>=', n);
  }
  atMost(n: number): Condition {
    return this.compare('<=', n);
  }
  equals(n: number): Condition {
    return this.compare('==', n);
  }
  moreThan(n: number): Condition {
    return this.compare('>', n);
  }
  fewerThan(n: number): Condition {
    return this.compare('<', n);
  }
}

export const and = (...conditions: Condition[]): Condition => ({ and: conditions });
export const or = (...conditions: Condition[]): Condition => ({ or: conditions });
export const not = (condition: Condition): Condition => ({ not: condition });
