# -*- coding: utf-8 -*-
# snapshottest: v1 - https://goo.gl/zC4yUc
from __future__ import unicode_literals

from snapshottest import Snapshot


snapshots = Snapshot()

snapshots['test_my_message_count_counts_pending_stored_messages_only 1'] = {
    'data': {
        'myMessageCount': 2
    }
}

snapshots['test_my_messages_shows_session_messages_first_then_stored_ones 1'] = {
    'data': {
        'myMessages': [
            {
                'acknowledgedAt': None,
                'actions': [
                ],
                'archivedAt': None,
                'category': '',
                'createdAt': None,
                'deliverOnce': True,
                'expiresAt': None,
                'extraTags': '',
                'id': None,
                'level': 25,
                'levelName': 'SUCCESS',
                'levelTag': 'success',
                'message': 'Profile saved.',
                'meta': {
                },
                'seenAt': None,
                'state': None,
                'tags': 'success'
            },
            {
                'acknowledgedAt': None,
                'actions': [
                ],
                'archivedAt': None,
                'category': '',
                'createdAt': '2024-05-01T12:00:00+00:00',
                'deliverOnce': True,
                'expiresAt': None,
                'extraTags': 'export',
                'id': '1',
                'level': 20,
                'levelName': 'INFO',
                'levelTag': 'info',
                'message': 'Your export is ready.',
                'meta': {
                    'url': '/exports/1'
                },
                'seenAt': '(the time of this read)',
                'state': 'DELIVERED',
                'tags': 'export info'
            },
            {
                'acknowledgedAt': None,
                'actions': [
                ],
                'archivedAt': None,
                'category': '',
                'createdAt': '2024-05-01T12:00:00+00:00',
                'deliverOnce': False,
                'expiresAt': '2100-01-01T00:00:00+00:00',
                'extraTags': '',
                'id': '2',
                'level': 30,
                'levelName': 'WARNING',
                'levelTag': 'warning',
                'message': 'Maintenance tonight.',
                'meta': {
                },
                'seenAt': '(the time of this read)',
                'state': 'PENDING',
                'tags': 'warning'
            }
        ]
    }
}
