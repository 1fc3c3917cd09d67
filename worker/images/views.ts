// Images as Docker's Engine API shows them (`GET /images/json`, `GET /images/{name}/json`): the CLI
// prints `image ls` rows and `image inspect` JSON from these. Pure functions of the store's records.
import type { ContainerConfig, ImageConfig } from './manifest.js';
import { familiarString, parseReference } from './reference.js';
import type { ImageRecord } from './store.js';

export interface ImageSummary {
  Id: string;
  ParentId: string;
  /** Familiar tags (`busybox:latest`); empty for an untagged image (shown `<none>:<none>`). */
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds, from the config's `created`. */
  Created: number;
  Size: number;
  /** -1: not counted here (as Docker's API answers unless asked). */
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export function imageSummary(image: ImageRecord, tags: string[], size: number): ImageSummary {
  return {
    Id: image.id,
    ParentId: '',
    RepoTags: tags.map(familiar),
    RepoDigests: image.repoDigests.map(familiar),
    Created: image.created ? Math.floor(Date.parse(image.created) / 1000) || 0 : 0,
    Size: size,
    Containers: -1,
  };
}

export function imageInspect(
  image: ImageRecord,
  tags: string[],
  config: ImageConfig,
  size: number,
): ImageInspect {
  return {
    Id: image.id,
    RepoTags: tags.map(familiar),
    RepoDigests: image.repoDigests.map(familiar),
    Parent: '',
    Comment: '',
    Created: config.created ?? '',
    Author: config.author ?? '',
    Config: config.config ?? {},
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Size: size,
    RootFS: { Type: 'layers', Layers: [...config.rootfs.diff_ids] },
    Metadata: { LastTagTime: image.storedAt },
  };
}

function familiar(reference: string): string {
  return familiarString(parseReference(reference));
}
