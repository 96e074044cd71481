"""PseudoLabelHook: teacher labels before switch_iter, the student after; only ignored pixels
change, to unseen classes; a teacher checkpoint that does not fit is refused."""

from types import SimpleNamespace

import pytest
import torch
from helpers.mvp_seg_models import CLASSES, UNSEEN, data_batch, student_cfg, write_teacher
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import init_default_scope
from mmseg.registry import HOOKS, MODELS

import mmpat  # noqa: F401

init_default_scope('mmseg')


def _runner(student, iteration=0):
    dataset = SimpleNamespace(metainfo=dict(classes=CLASSES, unseen_classes=UNSEEN))
    return SimpleNamespace(
        model=student,
        iter=iteration,
        train_dataloader=SimpleNamespace(dataset=dataset),
        logger=MMLogger.get_instance('test_pseudo_label_hook'),
        message_hub=MessageHub.get_instance('test_pseudo_label_hook'),
    )


@pytest.fixture(scope='module')
def teacher_files(tmp_path_factory):
    return write_teacher(tmp_path_factory.mktemp('teacher'))


def _hook(files, switch_iter=2, **kwargs):
    config, checkpoint = files
    return HOOKS.build(
        dict(
            type='PseudoLabelHook',
            teacher_config=config,
            teacher_checkpoint=checkpoint,
            switch_iter=switch_iter,
            **kwargs,
        )
    )


def _student():
    torch.manual_seed(0)
    student = MODELS.build(student_cfg())
    student.set_vocabulary(CLASSES)
    return student.train()


def test_teacher_labels_until_switch_then_the_student(teacher_files):
    student = _student()
    hook = _hook(teacher_files, switch_iter=2)  # the paper's rule: every ignored pixel
    runner = _runner(student)
    hook.before_train(runner)
    assert hook.teacher is not None and hook.unseen == [CLASSES.index('dog')]
    sources = []
    for iteration in range(4):
        runner.iter = iteration
        batch = data_batch()
        before = [s.gt_sem_seg.data.clone() for s in batch['data_samples']]
        hook.before_train_iter(runner, iteration, batch)
        sources.append(hook.last_source)
        for old, sample in zip(before, batch['data_samples']):
            new = sample.gt_sem_seg.data
            assert torch.equal(new[old != 255], old[old != 255])  # labelled pixels kept
            assert (new[old == 255] == CLASSES.index('dog')).all()  # every ignored one: unseen
        assert runner.message_hub.get_scalar('train/pseudo_label_fraction').current() > 0.3
    assert sources == ['teacher', 'teacher', 'student', 'student']
    assert hook.teacher is None and student.training  # teacher freed, student back in training


def test_labels_come_from_the_labeller_prediction(teacher_files):
    student = _student()
    hook = _hook(teacher_files, switch_iter=1, only_where_unseen_wins=True)
    runner = _runner(student)
    hook.before_train(runner)
    batch = data_batch(ignored=1.0)
    hook.before_train_iter(runner, 0, batch)
    teacher = hook.teacher
    samples = [s.clone() for s in data_batch(ignored=1.0)['data_samples']]
    data = teacher.data_preprocessor(dict(inputs=batch['inputs'], data_samples=samples), True)
    with torch.no_grad():
        logits = teacher.inference(data['inputs'], [s.metainfo for s in data['data_samples']])
    expected = logits.argmax(dim=1)  # unseen wins there: labelled dog; elsewhere still ignored
    for row, sample in enumerate(batch['data_samples']):
        label = sample.gt_sem_seg.data[0]
        dog = expected[row] == CLASSES.index('dog')
        assert torch.equal(label == CLASSES.index('dog'), dog)
        assert (label[~dog] == 255).all()


def test_bad_teacher_and_vocabulary_are_refused(teacher_files, tmp_path):
    config, checkpoint = teacher_files
    state = torch.load(checkpoint, weights_only=False)
    state['state_dict'].pop('decode_head.seg_context')
    state['state_dict']['decode_head.extra'] = torch.zeros(1)
    broken = tmp_path / 'broken.pth'
    torch.save(state, broken)
    hook = _hook((config, str(broken)))
    with pytest.raises(ValueError, match=r'does not fit.*seg_context.*decode_head.extra'):
        hook.before_train(_runner(_student()))
    with pytest.raises(ValueError, match="unseen classes \\['zebra'\\]"):
        _hook(teacher_files, unseen_classes=['zebra']).before_train(_runner(_student()))
    with pytest.raises(ValueError, match='switch_iter'):
        _hook(teacher_files, switch_iter=-1)
