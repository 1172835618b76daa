<?php
// The files tree at /remote.php/dav/files/<user>/. Nextcloud does not use sabre/dav's own
// filesystem nodes (Sabre\DAV\FS); it has its own, and these small classes imitate them over
// FileCache (a per-user folder on disk plus metadata in SQLite):
//   - apps/dav/lib/Files/RootCollection.php: `files`, one child per principal; a user only sees
//     their own home, anyone else's name gives an empty collection;
//   - apps/dav/lib/Files/FilesHome.php: the home folder cannot be deleted or renamed;
//   - apps/dav/lib/Connector/Sabre/Node.php, File.php, Directory.php: quoted ETags, file ids as
//     oc:id ("%08d" + instance id), DAV permissions, names checked by View::verifyPath with
//     lib/private/Files/FilenameValidator.php's defaults (answered as InvalidPath, 400),
//     moveInto/copyInto that keep/renew file ids.
// Written from those files' behaviour; none of their code is here.
declare(strict_types=1);

namespace NcTest;

use OCA\DAV\Connector\Sabre\Exception\InvalidPath;
use Sabre\DAV;

/** lib/private/Files/FilenameValidator.php with the stable32 defaults, as View::verifyPath words it. */
final class FilenameValidator
{
    private const FORBIDDEN_NAMES = ['.htaccess'];           // forbidden_filenames default
    private const FORBIDDEN_EXTENSIONS = ['.filepart', '.part']; // default + always '.part'
    private const FORBIDDEN_CHARS = ['\\', '/'];              // \OCP\Constants::FILENAME_INVALID_CHARS

    /** Full check before anything is written (createFile, createDirectory, rename, move, copy). */
    public static function validate(string $name): void
    {
        $trimmed = trim($name);
        if ($trimmed === '') {
            throw new InvalidPath('Empty filename is not allowed');
        }
        if ($trimmed === '.' || $trimmed === '..') {
            throw new InvalidPath('Dot files are not allowed');
        }
        if (strlen($name) > 250) {
            throw new InvalidPath('Filename is too long');
        }
        if (self::isForbidden($name)) {
            throw new InvalidPath(sprintf('"%s" is a forbidden file or folder name.', $name));
        }
        $lower = mb_strtolower($name);
        foreach (self::FORBIDDEN_EXTENSIONS as $ext) {
            if (str_ends_with($lower, $ext)) {
                throw new InvalidPath(sprintf('"%s" is a forbidden file type.', $ext));
            }
        }
        if (preg_match('/[\x00-\x1f]/', $name)) {
            throw new InvalidPath('Filename contains at least one invalid character');
        }
        foreach (self::FORBIDDEN_CHARS as $char) {
            if (str_contains($name, $char)) {
                throw new InvalidPath(sprintf('"%s" is not allowed inside a file or folder name.', $char));
            }
        }
    }

    /** The read-only check (Directory::getChild): only reserved names. */
    public static function validateForRead(string $name): void
    {
        if (self::isForbidden($name)) {
            throw new InvalidPath('Filename is a reserved word');
        }
    }

    private static function isForbidden(string $name): bool
    {
        return in_array(mb_strtolower($name), self::FORBIDDEN_NAMES, true);
    }
}

abstract class Node implements DAV\INode
{
    public function __construct(protected FileCache $cache, protected string $owner, protected array $row, protected string $instanceId)
    {
    }

    public function getName()
    {
        return $this->row['name'];
    }

    public function getPath(): string
    {
        return $this->row['path'];
    }

    public function getOwner(): string
    {
        return $this->owner;
    }

    public function getLastModified()
    {
        return (int) $this->row['mtime'];
    }

    public function getETag()
    {
        return '"' . $this->row['etag'] . '"';
    }

    public function getInternalFileId(): int
    {
        return (int) $this->row['fileid'];
    }

    /** oc:id and the OC-FileId header: the id padded to 8 digits, then the instance id. */
    public function getFileId(): string
    {
        return sprintf('%08d', $this->row['fileid']) . $this->instanceId;
    }

    public function getSize()
    {
        return (int) $this->row['size'];
    }

    public function getMimeType(): string
    {
        return $this->row['mimetype'];
    }

    abstract public function getDavPermissions(): string;

    public function setName($name)
    {
        $name = FileCache::normalize((string) $name);
        FilenameValidator::validate($name);
        $to = FileCache::join(FileCache::parentOf($this->getPath()), $name);
        $this->cache->move($this->owner, $this->getPath(), $to);
        $this->row = $this->cache->get($this->owner, $to);
    }

    public function delete()
    {
        $this->cache->delete($this->owner, $this->getPath());
    }

    /** A node of the right class for a cache row. */
    public function nodeFor(array $row): Node
    {
        return $row['mimetype'] === FileCache::FOLDER_MIME
            ? new Directory($this->cache, $this->owner, $row, $this->instanceId)
            : new File($this->cache, $this->owner, $row, $this->instanceId);
    }
}

final class File extends Node implements DAV\IFile
{
    public function put($data)
    {
        // X-OC-MTime sets the modification time, as File::put does (MtimeSanitizer).
        $mtime = isset($_SERVER['HTTP_X_OC_MTIME']) && is_numeric($_SERVER['HTTP_X_OC_MTIME']) ? (int) $_SERVER['HTTP_X_OC_MTIME'] : null;
        $this->row = $this->cache->putFile($this->owner, $this->getPath(), $data, $mtime);
        if ($mtime !== null) {
            header('X-OC-MTime: accepted');
        }
        return $this->getETag();
    }

    public function get()
    {
        $stream = fopen($this->cache->diskPath($this->owner, $this->getPath()), 'rb');
        if ($stream === false) {
            throw new DAV\Exception\NotFound('File with name ' . $this->getPath() . ' could not be located');
        }
        return $stream;
    }

    public function getContentType()
    {
        return $this->row['mimetype'];
    }

    public function getDavPermissions(): string
    {
        return 'RGDNVW';
    }
}

class Directory extends Node implements DAV\ICollection, DAV\IQuota, DAV\IMoveTarget, DAV\ICopyTarget
{
    public function getDavPermissions(): string
    {
        return 'RGDNVCK';
    }

    public function createFile($name, $data = null)
    {
        $name = FileCache::normalize((string) $name);
        FilenameValidator::validate($name);
        $file = new File($this->cache, $this->owner, ['path' => FileCache::join($this->getPath(), $name)] + $this->row, $this->instanceId);
        return $file->put($data);
    }

    public function createDirectory($name)
    {
        $name = FileCache::normalize((string) $name);
        FilenameValidator::validate($name);
        $this->cache->mkdir($this->owner, FileCache::join($this->getPath(), $name));
    }

    public function getChild($name)
    {
        $name = FileCache::normalize((string) $name);
        FilenameValidator::validateForRead($name);
        $path = FileCache::join($this->getPath(), $name);
        $row = $this->cache->get($this->owner, $path);
        if ($row === null) {
            throw new DAV\Exception\NotFound('File with name ' . $path . ' could not be located');
        }
        return $this->nodeFor($row);
    }

    public function getChildren()
    {
        return array_map(fn (array $row) => $this->nodeFor($row), $this->cache->children((int) $this->row['fileid']));
    }

    public function childExists($name)
    {
        return $this->cache->get($this->owner, FileCache::join($this->getPath(), FileCache::normalize((string) $name))) !== null;
    }

    /** [used, available]; available -3 is FileInfo::SPACE_UNLIMITED (no quota set). */
    public function getQuotaInfo()
    {
        return [(int) ($this->cache->get($this->owner, '')['size'] ?? 0), -3];
    }

    public function moveInto($targetName, $sourcePath, DAV\INode $sourceNode)
    {
        if (!$sourceNode instanceof Node || $sourceNode->getOwner() !== $this->owner) {
            return false;
        }
        $name = FileCache::normalize((string) $targetName);
        FilenameValidator::validate($name);
        $this->cache->move($this->owner, $sourceNode->getPath(), FileCache::join($this->getPath(), $name));
        return true;
    }

    public function copyInto($targetName, $sourcePath, DAV\INode $sourceNode)
    {
        if (!$sourceNode instanceof Node || $sourceNode->getOwner() !== $this->owner) {
            return false;
        }
        $name = FileCache::normalize((string) $targetName);
        FilenameValidator::validate($name);
        $this->cache->copy($this->owner, $sourceNode->getPath(), FileCache::join($this->getPath(), $name));
        return true;
    }
}

/** apps/dav/lib/Files/FilesHome.php: named after the user; not deletable, not renamable. */
final class FilesHome extends Directory
{
    public function getName()
    {
        return $this->owner;
    }

    public function delete()
    {
        throw new DAV\Exception\Forbidden('Permission denied to delete home folder');
    }

    public function setName($name)
    {
        throw new DAV\Exception\Forbidden('Permission denied to rename this folder');
    }
}

/** apps/dav/lib/Files/RootCollection.php: `files`, holding the signed-in user's home. */
final class FilesRoot extends \Sabre\DAVACL\AbstractPrincipalCollection
{
    /** @param \Closure(): ?string $currentUser */
    public function __construct(\Sabre\DAVACL\PrincipalBackend\BackendInterface $backend, string $prefix, private FileCache $cache, private \Closure $currentUser, private string $instanceId)
    {
        parent::__construct($backend, $prefix);
    }

    public function getChildForPrincipal(array $principalInfo)
    {
        [, $name] = \Sabre\Uri\split($principalInfo['uri']);
        if ($name !== ($this->currentUser)()) {
            return new DAV\SimpleCollection($name);
        }
        return new FilesHome($this->cache, $name, $this->cache->ensureHome($name), $this->instanceId);
    }

    public function getName()
    {
        return 'files';
    }
}
