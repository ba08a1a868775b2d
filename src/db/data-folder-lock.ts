import fs from 'node:fs';
import path from 'node:path';

// Two processes writing one embedded database lose data (a user created in one was gone after
// a restart), so the first takes the folder and a second refuses to start. The lock is a file
// holding the owner's pid: a lock left by a process that no longer runs is taken over.

export class DataFolderInUseError extends Error {
  constructor(
    readonly folder: string,
    readonly pid: number,
  ) {
    super(
      `The data folder ${folder} is in use by another Roster process (pid ${pid}). ` +
        'Stop that process first, or give this one its own ROSTER_DATA_DIR.',
    );
    this.name = 'DataFolderInUseError';
  }
}

const heldHere = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Takes `folder` for this process; returns the function that gives it back. */
export function lockDataFolder(folder: string): () => void {
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'roster.lock');
  if (heldHere.has(file)) throw new DataFolderInUseError(folder, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      // Our own pid in the file is a leftover (in a container every start is pid 1).
      if (Number.isSafeInteger(owner) && owner !== process.pid && isRunning(owner))
        throw new DataFolderInUseError(folder, owner);
      fs.rmSync(file, { force: true });
    }
  }
  heldHere.add(file);
  return () => {
    heldHere.delete(file);
    fs.rmSync(file, { force: true });
  };
}
