<?php
// The trash bin at /remote.php/dav/trashbin/<user>/{trash,restore}, imitating (not copying)
// Nextcloud's files_trashbin app:
//   - apps/files_trashbin/lib/Sabre/RootCollection.php: `trashbin`, one child per principal; any
//     other user's name is Forbidden (403);
//   - TrashHome.php: children `trash` and `restore` only, nothing can be created, renamed or
//     deleted there (403);
//   - TrashRoot.php: the deleted items; DELETE on it empties the trash bin (Trashbin::deleteAll);
//   - TrashFile.php / TrashFolder.php / AbstractTrash.php: an item is named
//     `<name>.d<deletion time>` (its mtime in the legacy backend is the deletion time); DELETE
//     removes it for good; a folder lists its contents (TrashFolderFile/TrashFolderFolder), which
//     are read-only here;
//   - RestoreFolder.php: MOVE of an item to restore/<anything> restores it (201 from sabre);
//   - TrashbinPlugin.php (stable32): nc:trashbin-filename, nc:trashbin-original-location,
//     nc:trashbin-title, nc:trashbin-deletion-time, nc:trashbin-deleted-by-id,
//     nc:trashbin-deleted-by-display-name, {DAV:}displayname (the real name), oc:size, oc:id
//     and oc:fileid (the file id, kept from before deletion), oc:permissions 'GD', {DAV:}getetag
//     (the mtime), nc:has-preview, nc:mount-type ''; Content-Disposition on GET;
//   - lib/Trashbin.php: move2trash (storage wrapper on unlink/rmdir; the file keeps its id, a
//     same-second name clash gets the next timestamp), restore (to the original folder, or to the
//     root when that folder is gone; a name clash gets " (restored)", then " (restored 2)"…,
//     before the extension: getUniqueFilename), delete and deleteAll.
// Items are in SQLite table nc_trash (Nextcloud's oc_files_trash: id = name, user, timestamp,
// location, type, mime, deleted_by) with the rows of the file cache they had, so that a restore
// puts back the same file ids (as Nextcloud's rename within the home storage does).
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;

final class Trashbin
{
    public function __construct(private \PDO $pdo, private FileCache $cache)
    {
    }

    public static function schema(): string
    {
        return <<<'SQL'
            CREATE TABLE IF NOT EXISTS nc_trash (
              owner TEXT NOT NULL, name TEXT NOT NULL, timestamp INTEGER NOT NULL, location TEXT NOT NULL,
              type TEXT NOT NULL, deleted_by TEXT, rows TEXT NOT NULL, PRIMARY KEY (owner, name, timestamp));
            SQL;
    }

    public function diskPath(string $owner, string $name, int $timestamp): string
    {
        return $this->cache->appDataPath('files_trashbin', $owner) . '/' . $name . '.d' . $timestamp;
    }

    /** Trashbin::move2trash: the item leaves the tree and keeps its file ids. */
    public function moveToTrash(string $owner, string $path): void
    {
        $row = $this->cache->get($owner, $path);
        if ($row === null) {
            return;
        }
        $name = $row['name'];
        $timestamp = time();
        $exists = $this->pdo->prepare('SELECT COUNT(*) FROM nc_trash WHERE owner = ? AND name = ? AND timestamp = ?');
        while (true) {
            $exists->execute([$owner, $name, $timestamp]);
            if ((int) $exists->fetchColumn() === 0 && !file_exists($this->diskPath($owner, $name, $timestamp))) {
                break;
            }
            $timestamp++;
        }
        $rows = $this->cache->detach($owner, $path, $this->diskPath($owner, $name, $timestamp));
        $location = FileCache::parentOf($path);
        $this->pdo->prepare('INSERT INTO nc_trash (owner, name, timestamp, location, type, deleted_by, rows) VALUES (?, ?, ?, ?, ?, ?, ?)')
            ->execute([$owner, $name, $timestamp, $location === '' ? '.' : $location,
                $row['mimetype'] === FileCache::FOLDER_MIME ? 'dir' : 'file', $owner, json_encode($rows)]);
    }

    /** @return array[] the user's items, newest first */
    public function items(string $owner): array
    {
        $st = $this->pdo->prepare('SELECT * FROM nc_trash WHERE owner = ? ORDER BY timestamp DESC, name');
        $st->execute([$owner]);
        return array_map(static fn (array $r) => ['rows' => json_decode($r['rows'], true)] + $r, $st->fetchAll(\PDO::FETCH_ASSOC));
    }

    /** Trashbin::restore. Returns the path it was restored to. */
    public function restore(array $item): string
    {
        $owner = $item['owner'];
        $location = $item['location'] === '.' ? '' : $item['location'];
        $folder = $this->cache->get($owner, $location);
        if ($folder === null || $folder['mimetype'] !== FileCache::FOLDER_MIME) {
            $location = '';
        }
        $target = FileCache::join($location, $this->uniqueName($owner, $location, $item['name']));
        $this->cache->attach($owner, $target, $item['rows'], $this->diskPath($owner, $item['name'], (int) $item['timestamp']));
        $this->forget($item);
        return $target;
    }

    /** Trashbin::getUniqueFilename. */
    private function uniqueName(string $owner, string $location, string $name): string
    {
        if ($this->cache->get($owner, FileCache::join($location, $name)) === null) {
            return $name;
        }
        $dot = strrpos($name, '.');
        [$base, $ext] = $dot === false || $dot === 0 ? [$name, ''] : [substr($name, 0, $dot), substr($name, $dot)];
        $candidate = "$base (restored)$ext";
        for ($i = 2; $this->cache->get($owner, FileCache::join($location, $candidate)) !== null; $i++) {
            $candidate = "$base (restored $i)$ext";
        }
        return $candidate;
    }

    /** Trashbin::delete: gone for good, with what other apps kept by its file ids. */
    public function delete(array $item): void
    {
        FileCache::removeTree($this->diskPath($item['owner'], $item['name'], (int) $item['timestamp']));
        $this->cache->forgetIds(array_map(static fn (array $r) => (int) $r['fileid'], $item['rows']));
        $this->forget($item);
    }

    private function forget(array $item): void
    {
        $this->pdo->prepare('DELETE FROM nc_trash WHERE owner = ? AND name = ? AND timestamp = ?')
            ->execute([$item['owner'], $item['name'], $item['timestamp']]);
    }
}

/** apps/files_trashbin/lib/Sabre/RootCollection.php */
final class TrashRootCollection extends \Sabre\DAVACL\AbstractPrincipalCollection
{
    /** @param \Closure(): ?string $currentUser */
    public function __construct(\Sabre\DAVACL\PrincipalBackend\BackendInterface $backend, private Trashbin $trashbin, private \Closure $currentUser, private \Closure $displayName)
    {
        parent::__construct($backend, 'principals/users');
    }

    public function getChildForPrincipal(array $principalInfo)
    {
        [, $name] = \Sabre\Uri\split($principalInfo['uri']);
        if ($name !== ($this->currentUser)()) {
            throw new DAV\Exception\Forbidden();
        }
        return new TrashHome($name, $this->trashbin, $this->displayName);
    }

    public function getName()
    {
        return 'trashbin';
    }
}

/** A collection nothing can be created in, renamed or deleted (the shared refusals). */
abstract class ReadOnlyCollection extends DAV\Collection
{
    public function createFile($name, $data = null)
    {
        throw new DAV\Exception\Forbidden('Not allowed to create files in the trashbin');
    }

    public function createDirectory($name)
    {
        throw new DAV\Exception\Forbidden('Not allowed to create folders in the trashbin');
    }

    public function setName($name)
    {
        throw new DAV\Exception\Forbidden('Permission denied to rename this trashbin');
    }

    public function delete()
    {
        throw new DAV\Exception\Forbidden();
    }

    public function getLastModified()
    {
        return 0;
    }
}

/** TrashHome.php */
final class TrashHome extends ReadOnlyCollection
{
    public function __construct(private string $user, private Trashbin $trashbin, private \Closure $displayName)
    {
    }

    public function getName()
    {
        return $this->user;
    }

    public function getChild($name)
    {
        return match ($name) {
            'restore' => new TrashRestoreFolder(),
            'trash' => new TrashRoot($this->user, $this->trashbin, $this->displayName),
            default => throw new DAV\Exception\NotFound(),
        };
    }

    public function getChildren()
    {
        return [new TrashRestoreFolder(), new TrashRoot($this->user, $this->trashbin, $this->displayName)];
    }

    public function childExists($name)
    {
        return $name === 'restore' || $name === 'trash';
    }
}

/** TrashRoot.php */
final class TrashRoot extends ReadOnlyCollection
{
    public function __construct(private string $user, private Trashbin $trashbin, private \Closure $displayName)
    {
    }

    public function getName()
    {
        return 'trash';
    }

    /** Trashbin::deleteAll */
    public function delete()
    {
        foreach ($this->trashbin->items($this->user) as $item) {
            $this->trashbin->delete($item);
        }
    }

    public function getChildren()
    {
        return array_map(fn (array $item) => $item['type'] === 'dir'
            ? new TrashFolder($this->trashbin, $item, $this->displayName)
            : new TrashFile($this->trashbin, $item, $this->displayName), $this->trashbin->items($this->user));
    }
}

/** A deleted file or folder (AbstractTrash.php): its name carries the deletion time. */
abstract class AbstractTrash implements DAV\INode
{
    public function __construct(protected Trashbin $trashbin, protected array $item, private \Closure $displayName)
    {
    }

    protected function top(): array
    {
        return $this->item['rows'][0];
    }

    public function getName()
    {
        return $this->item['name'] . '.d' . $this->item['timestamp'];
    }

    public function getFilename(): string
    {
        return $this->item['name'];
    }

    public function getOriginalLocation(): string
    {
        return $this->item['location'] === '.' ? $this->item['name'] : $this->item['location'] . '/' . $this->item['name'];
    }

    public function getDeletionTime(): int
    {
        return (int) $this->item['timestamp'];
    }

    public function getDeletedBy(): ?string
    {
        return $this->item['deleted_by'];
    }

    public function displayNameOf(string $user): string
    {
        return ($this->displayName)($user);
    }

    public function getFileId(): int
    {
        return (int) $this->top()['fileid'];
    }

    public function getLastModified()
    {
        return $this->getDeletionTime();
    }

    public function getSize()
    {
        return (int) $this->top()['size'];
    }

    public function setName($name)
    {
        throw new DAV\Exception\Forbidden();
    }

    public function delete()
    {
        $this->trashbin->delete($this->item);
    }

    public function restore(): bool
    {
        $this->trashbin->restore($this->item);
        return true;
    }
}

/** TrashFile.php */
final class TrashFile extends AbstractTrash implements DAV\IFile
{
    public function getContentType()
    {
        return $this->top()['mimetype'];
    }

    public function getETag()
    {
        return null;
    }

    public function get()
    {
        return fopen($this->trashbin->diskPath($this->item['owner'], $this->item['name'], (int) $this->item['timestamp']), 'rb');
    }

    public function put($data)
    {
        throw new DAV\Exception\Forbidden();
    }
}

/** TrashFolder.php: lists what the folder held (one level; read-only entries here). */
final class TrashFolder extends AbstractTrash implements DAV\ICollection
{
    public function createFile($name, $data = null)
    {
        throw new DAV\Exception\Forbidden();
    }

    public function createDirectory($name)
    {
        throw new DAV\Exception\Forbidden();
    }

    public function getChildren()
    {
        $topId = $this->getFileId();
        $children = [];
        foreach ($this->item['rows'] as $row) {
            if ((int) $row['parent'] === $topId && $row['rel'] !== '') {
                $children[] = new TrashedEntry($row);
            }
        }
        return $children;
    }

    public function getChild($name)
    {
        foreach ($this->getChildren() as $child) {
            if ($child->getName() === $name) {
                return $child;
            }
        }
        throw new DAV\Exception\NotFound();
    }

    public function childExists($name)
    {
        foreach ($this->getChildren() as $child) {
            if ($child->getName() === $name) {
                return true;
            }
        }
        return false;
    }
}

/** Something inside a deleted folder (TrashFolderFile.php / TrashFolderFolder.php), read-only. */
final class TrashedEntry extends DAV\Node
{
    public function __construct(private array $row)
    {
    }

    public function getName()
    {
        return $this->row['name'];
    }

    public function getLastModified()
    {
        return (int) $this->row['mtime'];
    }

    public function getRow(): array
    {
        return $this->row;
    }
}

/** RestoreFolder.php: the MOVE target that restores. */
final class TrashRestoreFolder extends ReadOnlyCollection implements DAV\IMoveTarget
{
    public function getName()
    {
        return 'restore';
    }

    public function getChildren()
    {
        return [];
    }

    public function childExists($name)
    {
        return false;
    }

    public function moveInto($targetName, $sourcePath, DAV\INode $sourceNode)
    {
        if (!$sourceNode instanceof AbstractTrash) {
            return false;
        }
        return $sourceNode->restore();
    }
}

/** TrashbinPlugin.php (stable32): the properties of trash items. */
final class TrashbinPlugin extends DAV\ServerPlugin
{
    private const NC = '{http://nextcloud.org/ns}';
    private const OC = '{http://owncloud.org/ns}';

    private DAV\Server $server;

    public function initialize(DAV\Server $server)
    {
        $this->server = $server;
        $server->on('propFind', [$this, 'propFind']);
        $server->on('afterMethod:GET', [$this, 'httpGet']);
    }

    public function propFind(DAV\PropFind $propFind, DAV\INode $node): void
    {
        if (!$node instanceof AbstractTrash) {
            return;
        }
        $propFind->handle(self::NC . 'trashbin-filename', fn () => $node->getFilename());
        $propFind->handle(self::NC . 'trashbin-original-location', fn () => $node->getOriginalLocation());
        $propFind->handle(self::NC . 'trashbin-title', fn () => $node->getOriginalLocation());
        $propFind->handle(self::NC . 'trashbin-deletion-time', fn () => $node->getDeletionTime());
        $propFind->handle(self::NC . 'trashbin-deleted-by-id', fn () => $node->getDeletedBy());
        $propFind->handle(self::NC . 'trashbin-deleted-by-display-name', fn () => $node->getDeletedBy() === null ? null : $node->displayNameOf($node->getDeletedBy()));
        $propFind->handle('{DAV:}displayname', fn () => $node->getFilename());
        $propFind->handle(self::OC . 'size', fn () => $node->getSize());
        $propFind->handle(self::OC . 'fileid', fn () => $node->getFileId());
        $propFind->handle(self::OC . 'id', fn () => $node->getFileId());
        $propFind->handle(self::OC . 'permissions', fn () => 'GD');
        $propFind->handle('{DAV:}getetag', fn () => $node->getLastModified());
        $propFind->handle(self::NC . 'has-preview', fn () => 'false');
        $propFind->handle(self::NC . 'mount-type', fn () => '');
    }

    public function httpGet(\Sabre\HTTP\RequestInterface $request, \Sabre\HTTP\ResponseInterface $response): void
    {
        $node = $this->server->tree->getNodeForPath($request->getPath());
        if ($node instanceof AbstractTrash) {
            $response->addHeader('Content-Disposition', 'attachment; filename="' . $node->getFilename() . '"');
        }
    }
}
