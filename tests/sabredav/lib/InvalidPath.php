<?php
// An imitation (not a copy) of Nextcloud's apps/dav/lib/Connector/Sabre/Exception/InvalidPath.php,
// kept in Nextcloud's namespace so that the error body names the same exception class a real
// Nextcloud sends: HTTP 400 and, inside <d:error>, <o:retry> and <o:reason> built with the same
// DOM calls (which is why a real Nextcloud writes them as xmlns:o="o:").
declare(strict_types=1);

namespace OCA\DAV\Connector\Sabre\Exception;

final class InvalidPath extends \Sabre\DAV\Exception
{
    public function __construct(string $message, private bool $retry = false)
    {
        parent::__construct($message);
    }

    public function getHTTPCode()
    {
        return 400;
    }

    public function serialize(\Sabre\DAV\Server $server, \DOMElement $errorNode)
    {
        $errorNode->setAttribute('xmlns:o', 'http://owncloud.org/ns');
        $errorNode->appendChild($errorNode->ownerDocument->createElementNS('o:', 'o:retry', $this->retry ? 'true' : 'false'));
        $errorNode->appendChild($errorNode->ownerDocument->createElementNS('o:', 'o:reason', $this->getMessage()));
    }
}
