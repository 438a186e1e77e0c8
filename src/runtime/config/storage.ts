/** Where the service keeps its data: the backups, the volumes it backs up, the embedded Redis's files. */
import { isValidVolumeName } from '../../core/names.js';
import { integer, text, variable, type Parsed } from './variables.js';

export const storage = {
  title: 'Storage',
  variables: {
    DATA_DIR: text({ default: './data', doc: 'base of the two defaults below and of the embedded Redis of `npm start`' }),
    BACKUP_DIR: text({ defaultText: '`./data/backup`', doc: 'where archives go (`/backup` in Docker); must lie outside `VOLUMES_DIR` and every volume, and no volume inside it (checked at start and by every archive and restore)' }),
    VOLUMES_DIR: text({
      defaultText: '`./data/volumes`',
      doc: 'every subdirectory with a valid name (`[a-z0-9][a-z0-9-]*`), or symlink there to a directory, is a volume (`/mnt` in Docker)',
    }),
    VOLUMES: variable({ doc: 'alternative to `VOLUMES_DIR`: `elexisdb=/mnt/elexisdb,pacsdata=/mnt/pacsdata`' }, parseVolumeList),
    SPACE_MARGIN_MB: integer({ min: 0, max: 10_000_000, default: 256, doc: 'free space kept in `BACKUP_DIR` on top of an archive\'s estimate' }),
  },
};

/** `name=path,…` as {name: path}; paths are resolved against the working directory later. */
function parseVolumeList(list: string): Parsed<Record<string, string>> {
  const volumes: Record<string, string> = {};
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = eq > 0 ? item.slice(0, eq).trim() : '';
    const dir = eq > 0 ? item.slice(eq + 1).trim() : '';
    if (!isValidVolumeName(name) || dir === '') return { problem: `expected name=path with name like elexisdb ([a-z0-9-]), got "${item}"` };
    if (Object.hasOwn(volumes, name)) return { problem: `volume "${name}" is listed twice` };
    volumes[name] = dir;
  }
  if (Object.keys(volumes).length === 0) return { problem: 'lists no volume' };
  return { value: volumes };
}
