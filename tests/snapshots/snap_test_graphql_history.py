# -*- coding: utf-8 -*-
# snapshottest: v1 - https://goo.gl/zC4yUc
from __future__ import unicode_literals

from snapshottest import Snapshot


snapshots = Snapshot()

snapshots['test_the_stored_history_operation_answers_as_recorded 1'] = {
    'data': {
        'myMessageHistory': {
            'edges': [
                {
                    'cursor': 'aGlzdG9yeToz',
                    'node': {
                        'acknowledgedAt': None,
                        'actions': [
                            {
                                'label': 'Update card',
                                'url': '/billing/'
                            }
                        ],
                        'archivedAt': None,
                        'category': '',
                        'createdAt': '2024-05-01T12:00:00+00:00',
                        'deliverOnce': True,
                        'expiresAt': None,
                        'extraTags': 'billing',
                        'id': '3',
                        'level': 40,
                        'levelName': 'ERROR',
                        'levelTag': 'error',
                        'message': 'Payment failed.',
                        'meta': {
                        },
                        'seenAt': None,
                        'state': 'PENDING',
                        'tags': 'billing error'
                    }
                },
                {
                    'cursor': 'aGlzdG9yeToy',
                    'node': {
                        'acknowledgedAt': '2024-05-01T12:00:00+00:00',
                        'actions': [
                        ],
                        'archivedAt': None,
                        'category': '',
                        'createdAt': '2024-05-01T12:00:00+00:00',
                        'deliverOnce': False,
                        'expiresAt': None,
                        'extraTags': '',
                        'id': '2',
                        'level': 30,
                        'levelName': 'WARNING',
                        'levelTag': 'warning',
                        'message': 'Maintenance tonight.',
                        'meta': {
                        },
                        'seenAt': None,
                        'state': 'ACKNOWLEDGED',
                        'tags': 'warning'
                    }
                }
            ],
            'pageInfo': {
                'endCursor': 'aGlzdG9yeToy',
                'hasNextPage': True
            },
            'pendingCount': 1
        }
    }
}
