<?php
// The oc:/nc: properties and response headers of Nextcloud's files, imitating (not copying):
//   - apps/dav/lib/Connector/Sabre/FilesPlugin.php: oc:id, oc:fileid, oc:permissions, oc:size,
//     oc:owner-id, oc:owner-display-name, nc:has-preview, {DAV:}displayname (the name; a
//     PROPPATCH of it is refused with 403), {DAV:}getetag on folders too, the OC-FileId header
//     after a write, Content-Disposition: attachment on downloads;
//   - apps/dav/lib/Connector/Sabre/CopyEtagHeaderPlugin.php: ETag copied to OC-ETag after every
//     method, and both set to the file's ETag after a MOVE.
declare(strict_types=1);

namespace NcTest;

use Sabre\DAV;
use Sabre\HTTP\RequestInterface;
use Sabre\HTTP\ResponseInterface;

final class FilesPlugin extends DAV\ServerPlugin
{
    public const NS_OWNCLOUD = 'http://owncloud.org/ns';
    public const NS_NEXTCLOUD = 'http://nextcloud.org/ns';

    private DAV\Server $server;

    /** @param \Closure(string): string $displayName the display name of a user id */
    public function __construct(private \Closure $displayName)
    {
    }

    public function getPluginName()
    {
        return 'nc-files';
    }

    public function initialize(DAV\Server $server)
    {
        $this->server = $server;
        $server->xml->namespaceMap[self::NS_OWNCLOUD] = 'oc';
        $server->xml->namespaceMap[self::NS_NEXTCLOUD] = 'nc';
        foreach (['id', 'fileid', 'permissions', 'size', 'owner-id', 'owner-display-name'] as $p) {
            $server->protectedProperties[] = '{' . self::NS_OWNCLOUD . '}' . $p;
        }
        $server->protectedProperties[] = '{' . self::NS_NEXTCLOUD . '}has-preview';
        $server->on('propFind', [$this, 'propFind']);
        $server->on('propPatch', [$this, 'propPatch']);
        $server->on('afterBind', [$this, 'sendFileIdHeader']);
        $server->on('afterWriteContent', [$this, 'sendFileIdHeader']);
        $server->on('afterMethod:GET', [$this, 'httpGet']);
        $server->on('afterMethod:*', [$this, 'copyEtagHeader']);
        $server->on('afterMove', [$this, 'afterMove']);
    }

    public function propFind(DAV\PropFind $propFind, DAV\INode $node): void
    {
        if (!$node instanceof Node) {
            return;
        }
        $oc = '{' . self::NS_OWNCLOUD . '}';
        $propFind->handle($oc . 'id', fn () => $node->getFileId());
        $propFind->handle($oc . 'fileid', fn () => $node->getInternalFileId());
        $propFind->handle($oc . 'permissions', fn () => $node->getDavPermissions());
        $propFind->handle('{DAV:}getetag', fn () => $node->getETag());
        $propFind->handle($oc . 'owner-id', fn () => $node->getOwner());
        $propFind->handle($oc . 'owner-display-name', fn () => ($this->displayName)($node->getOwner()));
        $propFind->handle($oc . 'size', fn () => $node->getSize());
        $propFind->handle('{' . self::NS_NEXTCLOUD . '}has-preview', fn () => 'false');
        $propFind->handle('{DAV:}displayname', fn () => $node->getName());
    }

    public function propPatch(string $path, DAV\PropPatch $propPatch): void
    {
        if ($this->server->tree->getNodeForPath($path) instanceof Node) {
            $propPatch->handle('{DAV:}displayname', fn () => 403);
        }
    }

    public function sendFileIdHeader(string $path): void
    {
        if (!$this->server->tree->nodeExists($path)) {
            return;
        }
        $node = $this->server->tree->getNodeForPath($path);
        if ($node instanceof Node) {
            $this->server->httpResponse->setHeader('OC-FileId', $node->getFileId());
        }
    }

    public function httpGet(RequestInterface $request, ResponseInterface $response): void
    {
        $node = $this->server->tree->getNodeForPath($request->getPath());
        if ($node instanceof File) {
            $name = rawurlencode($node->getName());
            $response->addHeader('Content-Disposition', "attachment; filename*=UTF-8''$name; filename=\"$name\"");
        }
    }

    public function copyEtagHeader(RequestInterface $request, ResponseInterface $response): void
    {
        $etag = $response->getHeader('ETag');
        if ($etag !== null && $etag !== '') {
            $response->setHeader('OC-ETag', $etag);
        }
    }

    public function afterMove(string $source, string $destination): void
    {
        try {
            $node = $this->server->tree->getNodeForPath($destination);
        } catch (DAV\Exception\NotFound $e) {
            return;
        }
        if ($node instanceof File) {
            $this->server->httpResponse->setHeader('OC-ETag', $node->getETag());
            $this->server->httpResponse->setHeader('ETag', $node->getETag());
        }
    }
}
