import { describe, expect, it } from 'vitest';
import { isImageReference, validateWorkspace } from '../../src/workspaces/workspace-validation.js';

describe('workspace fields', () => {
  it('accepts container image references', () => {
    for (const reference of [
      'ubuntu',
      'kasmweb/chrome:1.16.0',
      'registry.example.com/team/app:latest',
      'localhost:5000/app',
      'registry.example.com:5000/a/b/c:v1.2-rc_3',
      `kasmweb/chrome@sha256:${'0123456789abcdef'.repeat(4)}`,
      `kasmweb/chrome:1.16.0@sha256:${'a'.repeat(64)}`,
      'my_org/my-app__x:tag',
    ]) {
      expect(isImageReference(reference), reference).toBe(true);
    }
  });

  it('refuses what is not one', () => {
    for (const reference of [
      '',
      'Upper/Case',
      'a b',
      'app:',
      'app:-tag',
      '/app',
      'app/',
      `app@sha256:${'a'.repeat(63)}`,
      'app@md5:abc',
      'a//b',
      `app:${'t'.repeat(129)}`,
      'app\u0000',
    ]) {
      expect(isImageReference(reference), reference).toBe(false);
    }
  });

  it('checks every field and reads the checkbox', () => {
    const ok = validateWorkspace({
      friendly_name: ' Chrome ',
      image: 'kasmweb/chrome:1.16.0',
      cores: '1.5',
      memory_mb: '2048',
      run_config_override: '{"shm_size":"1g"}',
    });
    expect(ok).toEqual({
      ok: true,
      value: {
        friendlyName: 'Chrome',
        image: 'kasmweb/chrome:1.16.0',
        description: '',
        cores: 1.5,
        memoryMb: 2048,
        enabled: false,
        runConfigOverride: { shm_size: '1g' },
      },
    });
    const bad = validateWorkspace({
      friendly_name: 'a\u0007',
      image: 'x',
      cores: '-1',
      memory_mb: '1.5',
      run_config_override: '[1]',
    });
    expect(bad.ok ? {} : Object.keys(bad.errors).sort()).toEqual([
      'cores',
      'friendly_name',
      'memory_mb',
      'run_config_override',
    ]);
    const deep = validateWorkspace({
      friendly_name: 'a',
      image: 'a',
      cores: '1',
      memory_mb: '512',
      run_config_override: '{"a":'.repeat(30) + '1' + '}'.repeat(30),
    });
    expect(deep.ok ? '' : deep.errors.run_config_override).toContain('must not nest more than 20 levels');
  });
});
