<?php
// File versions at /remote.php/dav/versions/<user>/{versions/<fileid>,restore}, imitating (not
// copying) Nextcloud's files_versions app:
//   - apps/files_versions/lib/Sabre/RootCollection.php, VersionHome.php: `versions`, one child per
//     principal (another user's name: Forbidden), holding `versions` and `restore`;
//   - VersionRoot.php: versions/<fileid>, found by file id among the user's files; a folder or
//     an unknown id is NotFound (404);
//   - VersionCollection.php: one child per version; nothing can be created or deleted (403);
//   - VersionFile.php: named by revision id (the timestamp), ETag = revision id, size, content
//     type, last modified = the timestamp; GET gives that version's content;
//   - RestoreFolder.php: MOVE of a version to restore/<anything> rolls the file back to it;
//   - Plugin.php: nc:version-label (PROPPATCH sets it), nc:version-author, nc:has-preview,
//     Content-Disposition on GET;
//   - lib/Versions/LegacyVersionsBackend.php (getVersionsForFile): the list holds the current
//     content too (revision id = the file's mtime) besides the stored older versions;
//   - lib/Storage.php: store (a write over a non-empty file keeps its previous content as
//     files_versions/<path>.v<previous mtime>) and rollback (the current content is kept as a
//     version first; the chosen version's content becomes the file's, its mtime the version's
//     timestamp, and that stored version is used up).
// Versions are kept by file id (Nextcloud keeps them by path and moves them along with renames;
// the effect is the same), in SQLite table nc_versions (oc_files_versions) and on disk beside the
// users' files.
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;

final class Versions
{
    public function __construct(private \PDO $pdo, private FileCache $cache)
    {
    }

    public static function schema(): string
    {
        return <<<'SQL'
            CREATE TABLE IF NOT EXISTS nc_versions (
              fileid INTEGER NOT NULL, owner TEXT NOT NULL, timestamp INTEGER NOT NULL, size INTEGER NOT NULL,
              mimetype TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', author TEXT, PRIMARY KEY (fileid, timestamp));
            SQL;
    }

    private function diskPath(string $owner, int $fileId, int $timestamp): string
    {
        return $this->cache->appDataPath('files_versions', $owner) . '/' . $fileId . '.v' . $timestamp;
    }

    /** Storage::store: keeps the content at $disk (the row's file, about to be replaced). */
    public function store(string $owner, array $row, string $disk): void
    {
        if ((int) $row['size'] === 0 || !is_file($disk)) {
            return; // "no use making versions for empty files"
        }
        $target = $this->diskPath($owner, (int) $row['fileid'], (int) $row['mtime']);
        if (!is_dir(dirname($target)) && !mkdir(dirname($target), 0700, true) && !is_dir(dirname($target))) {
            throw new \RuntimeException('cannot create ' . dirname($target));
        }
        copy($disk, $target);
        $this->pdo->prepare('INSERT OR REPLACE INTO nc_versions (fileid, owner, timestamp, size, mimetype, author) VALUES (?, ?, ?, ?, ?, ?)')
            ->execute([$row['fileid'], $owner, $row['mtime'], $row['size'], $row['mimetype'], $owner]);
    }

    /** The versions of a file row: the current one first, then older ones, newest first. */
    public function list(string $owner, array $row): array
    {
        $st = $this->pdo->prepare('SELECT * FROM nc_versions WHERE fileid = ? ORDER BY timestamp DESC');
        $st->execute([$row['fileid']]);
        $versions = [(int) $row['mtime'] => ['timestamp' => (int) $row['mtime'], 'size' => (int) $row['size'], 'mimetype' => $row['mimetype'],
            'label' => '', 'author' => $owner, 'current' => true]];
        foreach ($st->fetchAll(\PDO::FETCH_ASSOC) as $v) {
            if (isset($versions[(int) $v['timestamp']])) {
                $versions[(int) $v['timestamp']]['label'] = $v['label'];
                continue;
            }
            $versions[(int) $v['timestamp']] = ['timestamp' => (int) $v['timestamp'], 'size' => (int) $v['size'], 'mimetype' => $v['mimetype'],
                'label' => $v['label'], 'author' => $v['author'], 'current' => false];
        }
        return array_values($versions);
    }

    /** @return resource */
    public function read(string $owner, array $row, array $version)
    {
        if ($version['current']) {
            return fopen($this->cache->diskPath($owner, $row['path']), 'rb');
        }
        $stream = fopen($this->diskPath($owner, (int) $row['fileid'], $version['timestamp']), 'rb');
        if ($stream === false) {
            throw new DAV\Exception\NotFound();
        }
        return $stream;
    }

    public function setLabel(array $row, array $version, string $label): void
    {
        $this->pdo->prepare('INSERT INTO nc_versions (fileid, owner, timestamp, size, mimetype, label) VALUES (?, ?, ?, ?, ?, ?)'
            . ' ON CONFLICT (fileid, timestamp) DO UPDATE SET label = excluded.label')
            ->execute([$row['fileid'], $row['owner'], $version['timestamp'], $version['size'], $version['mimetype'], $label]);
    }

    /** Storage::rollback. */
    public function rollback(string $owner, array $row, array $version): void
    {
        if ($version['current']) {
            return;
        }
        $disk = $this->diskPath($owner, (int) $row['fileid'], $version['timestamp']);
        $this->store($owner, $row, $this->cache->diskPath($owner, $row['path']));
        $stream = fopen($disk, 'rb');
        try {
            $this->cache->putFile($owner, $row['path'], $stream, $version['timestamp'], false);
        } finally {
            fclose($stream);
        }
        unlink($disk);
        $this->pdo->prepare('DELETE FROM nc_versions WHERE fileid = ? AND timestamp = ? AND label = \'\'')->execute([$row['fileid'], $version['timestamp']]);
    }

    /** The file is gone for good: so are its versions. */
    public function forget(int $fileId): void
    {
        $st = $this->pdo->prepare('SELECT owner, timestamp FROM nc_versions WHERE fileid = ?');
        $st->execute([$fileId]);
        foreach ($st->fetchAll(\PDO::FETCH_ASSOC) as $v) {
            @unlink($this->diskPath($v['owner'], $fileId, (int) $v['timestamp']));
        }
        $this->pdo->prepare('DELETE FROM nc_versions WHERE fileid = ?')->execute([$fileId]);
    }

    /** The user's file (not folder) with this id, or null. */
    public function fileById(string $owner, string $id): ?array
    {
        if (!ctype_digit($id)) {
            return null;
        }
        $st = $this->pdo->prepare('SELECT * FROM nc_filecache WHERE owner = ? AND fileid = ?');
        $st->execute([$owner, (int) $id]);
        $row = $st->fetch(\PDO::FETCH_ASSOC);
        return $row === false || $row['mimetype'] === FileCache::FOLDER_MIME ? null : $row;
    }
}

/** RootCollection.php */
final class VersionsRootCollection extends \Sabre\DAVACL\AbstractPrincipalCollection
{
    /** @param \Closure(): ?string $currentUser */
    public function __construct(\Sabre\DAVACL\PrincipalBackend\BackendInterface $backend, private Versions $versions, private \Closure $currentUser)
    {
        parent::__construct($backend, 'principals/users');
    }

    public function getChildForPrincipal(array $principalInfo)
    {
        [, $name] = \Sabre\Uri\split($principalInfo['uri']);
        if ($name !== ($this->currentUser)()) {
            throw new DAV\Exception\Forbidden();
        }
        return new VersionHome($name, $this->versions);
    }

    public function getName()
    {
        return 'versions';
    }
}

/** A collection where nothing can be created, renamed or deleted. */
abstract class FixedCollection extends DAV\Collection
{
    public function createFile($name, $data = null)
    {
        throw new DAV\Exception\Forbidden();
    }

    public function createDirectory($name)
    {
        throw new DAV\Exception\Forbidden();
    }

    public function setName($name)
    {
        throw new DAV\Exception\Forbidden();
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

/** VersionHome.php */
final class VersionHome extends FixedCollection
{
    public function __construct(private string $user, private Versions $versions)
    {
    }

    public function getName()
    {
        return $this->user;
    }

    public function getChildren()
    {
        return [new VersionRoot($this->user, $this->versions), new VersionRestoreFolder()];
    }
}

/** VersionRoot.php */
final class VersionRoot extends FixedCollection
{
    public function __construct(private string $user, private Versions $versions)
    {
    }

    public function getName()
    {
        return 'versions';
    }

    public function getChild($name)
    {
        $row = $this->versions->fileById($this->user, (string) $name);
        if ($row === null) {
            throw new DAV\Exception\NotFound();
        }
        return new VersionCollection($this->user, $row, $this->versions);
    }

    public function getChildren()
    {
        return [];
    }

    public function childExists($name)
    {
        return $this->versions->fileById($this->user, (string) $name) !== null;
    }
}

/** VersionCollection.php */
final class VersionCollection extends FixedCollection
{
    public function __construct(private string $user, private array $row, private Versions $versions)
    {
    }

    public function getName()
    {
        return (string) $this->row['fileid'];
    }

    public function getChildren()
    {
        return array_map(fn (array $v) => new VersionFile($this->user, $this->row, $v, $this->versions), $this->versions->list($this->user, $this->row));
    }
}

/** VersionFile.php */
final class VersionFile extends DAV\File
{
    public function __construct(private string $user, private array $row, private array $version, private Versions $versions)
    {
    }

    public function getName()
    {
        return (string) $this->version['timestamp'];
    }

    public function get()
    {
        return $this->versions->read($this->user, $this->row, $this->version);
    }

    public function getContentType()
    {
        return $this->version['mimetype'];
    }

    public function getETag()
    {
        return (string) $this->version['timestamp'];
    }

    public function getSize()
    {
        return $this->version['size'];
    }

    public function getLastModified()
    {
        return $this->version['timestamp'];
    }

    public function getLabel(): string
    {
        return $this->version['label'];
    }

    public function getAuthor(): ?string
    {
        return $this->version['author'];
    }

    public function setLabel(string $label): bool
    {
        $this->versions->setLabel($this->row, $this->version, $label);
        return true;
    }

    public function sourceName(): string
    {
        return $this->row['name'];
    }

    public function rollBack(): void
    {
        $this->versions->rollback($this->user, $this->row, $this->version);
    }

    public function put($data)
    {
        throw new DAV\Exception\Forbidden();
    }

    public function delete()
    {
        throw new DAV\Exception\Forbidden();
    }

    public function setName($name)
    {
        throw new DAV\Exception\Forbidden();
    }
}

/** RestoreFolder.php */
final class VersionRestoreFolder extends FixedCollection implements DAV\IMoveTarget
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
        if (!$sourceNode instanceof VersionFile) {
            return false;
        }
        $sourceNode->rollBack();
        return true;
    }
}

/** Plugin.php */
final class VersionsPlugin extends DAV\ServerPlugin
{
    private const NC = '{http://nextcloud.org/ns}';

    private DAV\Server $server;

    public function initialize(DAV\Server $server)
    {
        $this->server = $server;
        $server->on('afterMethod:GET', [$this, 'afterGet']);
        $server->on('propFind', [$this, 'propFind']);
        $server->on('propPatch', [$this, 'propPatch']);
    }

    public function afterGet(\Sabre\HTTP\RequestInterface $request, \Sabre\HTTP\ResponseInterface $response): void
    {
        $path = $request->getPath();
        if (!str_starts_with($path, 'versions')) {
            return;
        }
        try {
            $node = $this->server->tree->getNodeForPath($path);
        } catch (DAV\Exception\NotFound $e) {
            return;
        }
        if ($node instanceof VersionFile) {
            $name = rawurlencode($node->sourceName());
            $response->addHeader('Content-Disposition', "attachment; filename*=UTF-8''$name; filename=\"$name\"");
        }
    }

    public function propFind(DAV\PropFind $propFind, DAV\INode $node): void
    {
        if ($node instanceof VersionFile) {
            $propFind->handle(self::NC . 'version-label', fn () => $node->getLabel());
            $propFind->handle(self::NC . 'version-author', fn () => $node->getAuthor());
            $propFind->handle(self::NC . 'has-preview', fn () => 'false');
        }
    }

    public function propPatch(string $path, DAV\PropPatch $propPatch): void
    {
        $node = $this->server->tree->getNodeForPath($path);
        if ($node instanceof VersionFile) {
            $propPatch->handle(self::NC . 'version-label', fn ($label) => $node->setLabel((string) $label));
        }
    }
}
